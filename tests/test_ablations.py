"""The paper's data ablations: a noisy oracle and a biased initial pool; class histograms."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.helpers import TINY_OVERRIDES, tiny_spec
from vaal_core.errors import SpecError
from vaal_core.run.loop import ActiveLoop
from vaal_core.run.pool import noisy_labels
from vaal_core.run.runlog import reproducible_part
from vaal_core.spec import load_spec

REPO = Path(__file__).resolve().parent.parent


def stable(records):
    return [reproducible_part(r) for r in records]


def test_noisy_oracle_flips_the_fraction_never_to_the_truth_same_process_per_seed():
    labels = np.arange(1000) % 10
    set_a, set_b = np.arange(0, 200), np.arange(500, 700)  # two strategies' selections
    fa, wa = noisy_labels("mnist", 3, 2, set_a, labels, 0.3, 10)
    fb, wb = noisy_labels("mnist", 3, 2, set_b, labels, 0.3, 10)
    assert len(fa) == len(fb) == 60  # exactly 30% of 200
    assert set(fa) <= set(set_a) and len(set(fa)) == 60
    assert (wa != labels[fa]).all() and (wb != labels[fb]).all()  # never the true label
    assert ((wa >= 0) & (wa < 10)).all()
    # the same process: same positions within the sorted new set, same label shifts
    assert np.array_equal(fa - 0, fb - 500)
    assert np.array_equal((wa - labels[fa]) % 10, (wb - labels[fb]) % 10)
    fc, _ = noisy_labels("mnist", 3, 3, set_a, labels, 0.3, 10)
    assert not np.array_equal(fa, fc)  # another cycle, other draws
    f0, w0 = noisy_labels("mnist", 3, 2, set_a, labels, 0.0, 10)
    assert len(f0) == len(w0) == 0


def test_wrong_labels_are_uniform_over_the_other_classes():
    labels = np.zeros(100_000, dtype=np.int64)
    _, wrong = noisy_labels("mnist", 0, 0, np.arange(100_000), labels, 0.5, 5)
    counts = np.bincount(wrong, minlength=5)
    assert counts[0] == 0 and counts[1:].min() > 0.23 * 50_000


def test_noisy_run_records_flips_and_resumes_identically(tmp_path, mnist):
    spec3 = tiny_spec(protocol={"label_noise": 0.25})
    full = ActiveLoop(spec3, "random", 0, tmp_path / "a", progress=False, data=mnist).run()
    for r in full:
        assert len(r["label_noise_flipped"]) == 10  # 25% of the 40 new images of each cycle
    pools = [np.load(tmp_path / "a/tiny/random/seed-0" / f"pool-{c}.npy") for c in range(3)]
    assert set(full[1]["label_noise_flipped"]) <= set(pools[1]) - set(pools[0])
    # a run stopped after 2 cycles and extended replays the noise of the committed cycles
    spec2 = tiny_spec(protocol={"label_noise": 0.25}, active={"cycles": 2})
    ActiveLoop(spec2, "random", 0, tmp_path / "b", progress=False, data=mnist).run()
    extended = ActiveLoop(spec3, "random", 0, tmp_path / "b", progress=False, data=mnist).run()
    assert stable(extended) == stable(full)
    clean = ActiveLoop(tiny_spec(), "random", 0, tmp_path / "c", progress=False, data=mnist).run()
    assert clean[0]["label_noise_flipped"] is None
    assert clean[0]["labeled_sha1"] == full[0]["labeled_sha1"]  # the same initial set


def test_biased_initial_pool_holds_only_the_requested_classes(tmp_path, mnist):
    spec = tiny_spec(protocol={"initial_classes": [0, 1]}, active={"cycles": 2})
    records = ActiveLoop(spec, "random", 0, tmp_path, progress=False, data=mnist).run()
    pool0 = np.load(tmp_path / "tiny/random/seed-0/pool-0.npy")
    assert set(mnist.train_y[pool0].tolist()) == {0, 1}
    hist = records[0]["selected_classes"]
    assert sum(hist) == 40 and len(hist) == 10 and records[1]["selected_classes"] is None
    pool1 = np.load(tmp_path / "tiny/random/seed-0/pool-1.npy")
    assert (
        np.bincount(mnist.train_y[np.setdiff1d(pool1, pool0)].numpy(), minlength=10).tolist()
        == hist
    )


def test_biased_pool_with_an_unknown_class_is_a_spec_error(tmp_path, mnist):
    spec = tiny_spec(protocol={"initial_classes": [3, 10]})
    with pytest.raises(SpecError, match=r"'protocol.initial_classes' holds class 10.*0..9"):
        ActiveLoop(spec, "random", 0, tmp_path, progress=False, data=mnist).run()
    with pytest.raises(SpecError, match="protocol.label_noise"):
        tiny_spec(protocol={"label_noise": 1.0})


ABLATIONS = sorted((REPO / "experiments" / "ablations").glob("mnist_*.yaml"))


@pytest.mark.parametrize("path", ABLATIONS, ids=[p.stem for p in ABLATIONS])
def test_each_ablation_runs_two_tiny_cycles(tmp_path, mnist, path):
    """Every shipped ablation, at tiny scale: its budget scaled as the demo's 200 -> 40."""
    budget = load_spec(path).active.budget * 40 // 200
    overrides = [o for o in TINY_OVERRIDES if not o.startswith(("active.budget", "active.cycles"))]
    spec = load_spec(
        path,
        [
            *overrides,
            f"active.budget={budget}",
            "active.cycles=2",
            "experiment=" + load_spec(path).experiment,
        ],
    )
    strategy = "vaal"  # in every ablation (the data ablations also inherit random, baselines, full)
    assert strategy in spec.strategies
    records = ActiveLoop(spec, strategy, 0, tmp_path, progress=False, data=mnist).run()
    assert [r["n_labeled"] for r in records] == [40, 40 + budget]
    if spec.protocol.label_noise:
        assert len(records[1]["label_noise_flipped"]) == round(spec.protocol.label_noise * budget)
    if strategy == "vaal":
        assert "disc_auc_train" in records[0]["query_stats"]
