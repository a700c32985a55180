"""A strategy owns its options (a dataclass), and moving a knob there keeps every spec's bytes.

Every baseline knob left `BaselinesSpec` for its strategy's dataclass (`TypiClustOptions`,
`MCOptions`, `EnsembleOptions`, `CoreSetOptions`, `SuggestiveOptions`). The pinned hashes below were
computed with main at 679950a (typiclust) and d158901 (the others), when the keys were still
`BaselinesSpec` fields (tests/test_spec_hash.py pins the shipped specs).
"""

from __future__ import annotations

import dataclasses

import pytest

from baselines.typiclust import TypiClustOptions, TypiClustStrategy
from tests.helpers import tiny_spec
from vaal_core.errors import SpecError
from vaal_core.plugins import load_plugins
from vaal_core.run.loop import preflight
from vaal_core.spec import option_key
from vaal_core.spec.hashing import LEGACY_OWNED as _LEGACY_OWNED
from vaal_core.strategies import STRATEGIES, make_strategy


def _owned_defaults() -> dict[str, list]:
    """Every strategy-owned key with the default each owner gives it."""
    load_plugins()
    found: dict[str, list] = {}
    for cls in STRATEGIES.values():
        for f in dataclasses.fields(cls.options_type) if cls.options_type else ():
            found.setdefault(f"baselines.{option_key(f, cls.option_prefix)}", []).append(f.default)
    return found


def test_the_legacy_defaults_are_the_strategies_own_and_shared_keys_agree():
    owned = _owned_defaults()
    assert {k: owned[k][0] for k in _LEGACY_OWNED} == {k: d for k, (d, _) in _LEGACY_OWNED.items()}
    assert all(len(set(defaults)) == 1 for defaults in owned.values()), owned
    assert len(owned["baselines.mc_samples"]) == 3  # mc_dropout, dbal, qbc: one T per cycle
    assert len(owned["baselines.chunk_size"]) == 2  # coreset, typiclust


@pytest.mark.parametrize(
    "baselines, pinned",
    [
        ({}, None),
        ({"typiclust_max_clusters": 30}, "4f0a2c0a6731"),
        ({"typiclust_knn": 7, "sa_ensemble_size": 3}, "a50ec09d0056"),
        ({"mc_samples": 7}, "288a7aa5d71b"),
        ({"ensemble_size": 3, "chunk_size": 100}, "5b4796ea3416"),
        ({"sa_candidates_factor": 3}, "7ce59b0b58fd"),  # an int for a float: 3.0, as the field did
        ({"sa_ensemble_size": 4, "mc_samples": 25}, "9e10bcf99fb3"),  # defaults written out
        ({"sa_candidates_factor": 2, "sa_ensemble_size": 3}, "151aa10d58ee"),
    ],
)
def test_spec_bytes_and_hash_are_those_of_the_old_fields(baselines, pinned):
    spec = tiny_spec(baselines=baselines)
    section = spec.to_dict()["baselines"]
    # the owned keys are written in the section, at their default when the spec leaves them out
    assert {k: section[k] for k in ("typiclust_max_clusters", "typiclust_knn")} == {
        "typiclust_max_clusters": baselines.get("typiclust_max_clusters", 500),
        "typiclust_knn": baselines.get("typiclust_knn", 20),
    }
    if pinned:
        assert spec.hash() == pinned


def test_the_strategy_reads_its_options_and_the_spec_round_trips():
    spec = tiny_spec(baselines={"typiclust_max_clusters": 30, "typiclust_min_cluster_size": 2})
    strategy = make_strategy("typiclust", spec)
    assert isinstance(strategy, TypiClustStrategy)
    assert strategy.options == TypiClustOptions(max_clusters=30, knn=20, min_cluster_size=2)
    assert make_strategy("dbal", spec).options.mc_samples == 25
    again = tiny_spec(baselines=spec.to_dict()["baselines"])
    assert again == spec and again.hash() == spec.hash()


@pytest.mark.parametrize(
    "baselines, message",
    [
        ({"typiclust_knn": 0}, r"'baselines.typiclust_knn' must be >= 1 \(neighbours\), got 0"),
        ({"typiclust_knn": 2.5}, "'baselines.typiclust_knn' must be an integer, got 2.5"),
        (
            {"typiclust_kn": 3},
            r"unknown spec key 'baselines.typiclust_kn' \(did you mean 'baselines.typiclust_knn'"
            r"\?\); valid keys: .*typiclust_knn",
        ),
        ({"mc_samples": 1}, r"'baselines.mc_samples' must be >= 2 \(BALD and the MC mean"),
        ({"ensemble_size": 1}, r"'baselines.ensemble_size' must be >= 2"),
        ({"chunk_size": 0}, r"'baselines.chunk_size' must be >= 1 \(rows per distance block\)"),
        ({"sa_ensemble_size": 1}, r"'baselines.sa_ensemble_size' must be >= 2"),
        ({"sa_candidates_factor": 0.5}, r"'baselines.sa_candidates_factor' must be >= 1"),
        ({"mc_samples": "many"}, "'baselines.mc_samples' must be an integer, got 'many'"),
    ],
)
def test_bad_options_fail_at_preflight_whichever_strategy_runs(baselines, message):
    spec = tiny_spec(baselines=baselines)  # loads: the engine checks plug-in keys at preflight
    with pytest.raises(SpecError, match=message):
        preflight(spec, "random")
