"""A strategy owns its options (a dataclass), and moving a knob there keeps every spec's bytes.

TypiClust is the pattern: its three `baselines.typiclust_*` keys left `BaselinesSpec` for
`baselines/typiclust.py` `TypiClustOptions`. The pinned hashes below were computed with main at
679950a, when the keys were still `BaselinesSpec` fields (tests/test_spec_hash.py pins the
shipped specs, which leave these keys at their defaults).
"""

from __future__ import annotations

import dataclasses

import pytest

from baselines.typiclust import TypiClustOptions, TypiClustStrategy
from tests.helpers import tiny_spec
from vaal_core.errors import SpecError
from vaal_core.loop import preflight
from vaal_core.spec import _OWNED_HASHED
from vaal_core.strategies import make_strategy


def test_the_hashed_defaults_are_the_strategys_own():
    owned = {
        f"baselines.typiclust_{f.name}": f.default for f in dataclasses.fields(TypiClustOptions)
    }
    assert owned == _OWNED_HASHED


@pytest.mark.parametrize(
    "baselines, pinned",
    [
        ({}, None),
        ({"typiclust_max_clusters": 30}, "4f0a2c0a6731"),
        ({"typiclust_knn": 7, "sa_ensemble_size": 3}, "a50ec09d0056"),
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
    again = tiny_spec(baselines=spec.to_dict()["baselines"])
    assert again == spec and again.hash() == spec.hash()


@pytest.mark.parametrize(
    "baselines, message",
    [
        ({"typiclust_knn": 0}, r"'baselines.typiclust_knn' must be >= 1 \(neighbours\), got 0"),
        ({"typiclust_knn": 2.5}, "'baselines.typiclust_knn' must be an integer, got 2.5"),
        ({"typiclust_kn": 3}, "unknown spec key 'baselines.typiclust_kn'; valid keys: .*typiclust_knn"),
    ],
)  # fmt: skip
def test_bad_options_fail_at_preflight_whichever_strategy_runs(baselines, message):
    spec = tiny_spec(baselines=baselines)  # loads: the engine checks plug-in keys at preflight
    with pytest.raises(SpecError, match=message):
        preflight(spec, "random")
