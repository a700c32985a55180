"""Training health in every record: did the task model fit its own labeled set?

A comparison of strategies measures selection only when every cycle's task model trained
properly; these tests show the record says so, on every shipped classification spec, and that a
broken recipe is flagged rather than silently plotted.
"""

from __future__ import annotations

import math
import os

import pytest
import torch

from tests.fixtures.datasets import write_caltech256, write_cifar, write_imagenet
from tests.helpers import tiny_spec
from vaal_core.run.loop import ActiveLoop
from vaal_core.spec import TaskSpec, load_spec
from vaal_core.tasks import CLASSIFICATION, SEGMENTATION
from vaal_core.train import trainer

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HEALTH = ("train_loss", "train_fit", "train_fit_n", "fit_ok", "nonfinite_losses", "val_value")


def _assert_plausible(rec: dict) -> None:
    assert set(HEALTH) <= set(rec), f"missing {set(HEALTH) - set(rec)}"
    assert rec["train_loss"] is not None and math.isfinite(rec["train_loss"])
    assert rec["train_loss"] > 0
    assert 0.0 <= rec["train_fit"] <= 1.0
    assert rec["train_fit_n"] == min(rec["n_labeled"], trainer.FIT_SAMPLE)
    assert isinstance(rec["fit_ok"], bool) and rec["nonfinite_losses"] == 0


# ----------------------------------------------------------------------------- every shipped spec
FIXTURES = {
    "cifar10": lambda root: write_cifar(root, "cifar10", per_batch=8, n_test=10),
    "cifar100": lambda root: write_cifar(root, "cifar100", per_batch=8, n_test=10),
    "caltech256": lambda root: write_caltech256(root, classes=3, per_class=12),
    "imagenet": lambda root: write_imagenet(root, classes=3, train_per_class=8, val_per_class=2),
}
TINY_RUN = [
    "dataset.image_size=32",
    "task.iterations=3",  # VGG16-bn's 138M parameters: about 1 s per Adam step on this CPU
    "task.batch_size=8",
    "task.eval_batch_size=32",
    "active.initial=8",
    "active.budget=6",
    "active.cycles=2",
    "runtime.precision=fp32",
    "runtime.channels_last=false",
    "runtime.num_threads=1",
]


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_every_shipped_classification_spec_records_training_health(name, tmp_path, no_md5):
    """The shipped spec's own model and recipe (only sizes overridden) on its fixture."""
    FIXTURES[name](tmp_path / "data")
    extra = ["dataset.cache_resolution=40"] if name in ("caltech256", "imagenet") else []
    spec = load_spec(f"{REPO}/experiments/{name}.yaml", TINY_RUN + extra)
    records = ActiveLoop(
        spec, "random", 0, tmp_path / "out", tmp_path / "data", progress=False
    ).run()
    assert len(records) == 2
    for rec in records:
        _assert_plausible(rec)
        assert rec["val_value"] is None  # the paper protocol has no validation split


def test_release_protocol_records_the_kept_checkpoints_validation_metric(tmp_path, no_md5):
    write_cifar(tmp_path / "data", per_batch=12, n_test=10)
    spec = load_spec(
        f"{REPO}/experiments/cifar10.yaml",
        [*TINY_RUN, "dataset.val_size=10", "active.cycles=1"],
        protocol="release",
    )
    rec = ActiveLoop(spec, "random", 0, tmp_path / "out", tmp_path / "data", progress=False).run()[
        0
    ]
    _assert_plausible(rec)
    assert rec["val_value"] is not None and 0.0 <= rec["val_value"] <= 1.0


# ----------------------------------------------------------------------------- the rule
def test_a_recipe_that_fits_is_healthy_and_a_broken_one_is_flagged(tmp_path, mnist):
    good = tiny_spec(
        task={"iterations": 60, "optimizer": "adam", "lr": 2e-3, "weight_decay": 0.0},
        active={"initial": 40, "budget": 40, "cycles": 1},
    )
    rec = ActiveLoop(good, "random", 0, tmp_path / "good", data=mnist, progress=False).run()[0]
    _assert_plausible(rec)
    assert rec["fit_ok"] is True and rec["train_fit"] >= 0.9

    broken = tiny_spec(task={"iterations": 60, "lr": 50.0}, active={"initial": 40, "cycles": 1})
    rec = ActiveLoop(broken, "random", 0, tmp_path / "bad", data=mnist, progress=False).run()[0]
    assert rec["fit_ok"] is False
    # lr=50 blows the weights up: losses turn non-finite (counted, their gradients dropped) or the
    # model is left predicting one class; either way it does not fit its 40 images
    assert rec["nonfinite_losses"] > 0 or rec["train_fit"] < 0.5


def test_the_labeled_fit_is_measured_on_a_seeded_subsample_past_the_limit(
    tmp_path, mnist, monkeypatch
):
    monkeypatch.setattr(trainer, "FIT_SAMPLE", 25)
    spec = tiny_spec(active={"initial": 40, "budget": 40, "cycles": 1})
    a = ActiveLoop(spec, "random", 0, tmp_path / "a", data=mnist, progress=False).run()[0]
    b = ActiveLoop(spec, "random", 0, tmp_path / "b", data=mnist, progress=False).run()[0]
    assert a["train_fit_n"] == 25 and a["n_labeled"] == 40
    assert a["train_fit"] == b["train_fit"]  # the subsample is a function of (seed, cycle)


def test_fit_threshold_default_override_and_label_noise():
    assert trainer.fit_threshold(TaskSpec(), CLASSIFICATION) == CLASSIFICATION.default_min_fit
    assert trainer.fit_threshold(TaskSpec(), SEGMENTATION) == SEGMENTATION.default_min_fit
    assert trainer.fit_threshold(TaskSpec(min_fit=0.8), CLASSIFICATION) == 0.8
    # flipped labels need not be memorised: 30% noise lowers the bar to 70% of it
    assert trainer.fit_threshold(TaskSpec(min_fit=0.9), CLASSIFICATION, 0.3) == pytest.approx(0.63)
    ok = trainer.TrainStats(train_loss=0.1)
    assert trainer.is_fit_ok(ok, 0.95, 0.9) and not trainer.is_fit_ok(ok, 0.85, 0.9)
    assert not trainer.is_fit_ok(trainer.TrainStats(nonfinite_losses=1), 1.0, 0.9)
    assert not trainer.is_fit_ok(ok, math.nan, 0.9)


def test_a_nonfinite_loss_drops_the_batch_gradient_without_a_host_read():
    w = torch.nn.Parameter(torch.ones(3))
    w.grad = torch.tensor([1.0, math.nan, math.inf])
    trainer._drop_nonfinite_gradient([w], torch.tensor(False))
    assert torch.equal(w.grad, torch.zeros(3))
    w.grad = torch.tensor([1.0, 2.0, 3.0])
    trainer._drop_nonfinite_gradient([w], torch.tensor(True))
    assert torch.equal(w.grad, torch.tensor([1.0, 2.0, 3.0]))


def test_min_fit_is_a_spec_key_that_keeps_old_hashes():
    spec = load_spec(f"{REPO}/experiments/cifar10.yaml")
    assert "min_fit" not in spec.to_dict()["task"]
    changed = load_spec(f"{REPO}/experiments/cifar10.yaml", ["task.min_fit=0.8"])
    assert changed.task.min_fit == 0.8 and changed.hash() != spec.hash()


# ----------------------------------------------------------------------------- the benchmark
def test_bench_stability_quick_prints_one_row_per_labeled_set():
    import subprocess
    import sys

    r = subprocess.run(
        [sys.executable, "benchmarks/bench_stability.py", "--quick", "--train-seeds", "2"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr
    rows = [
        ln
        for ln in r.stdout.splitlines()
        if ln.startswith("| random @") or ln.startswith("| coreset @")
    ]
    assert [ln.split("|")[1].strip() for ln in rows] == ["random @80", "coreset @80"]
    assert "CPU:" in r.stdout and "2 training seeds" in r.stdout


def test_check_runs_reports_the_largest_fall_between_cycles(tmp_path):
    import json
    import subprocess
    import sys

    for strategy, values in {"random": [0.90, 0.93, 0.95], "coreset": [0.90, 0.94, 0.61]}.items():
        run = tmp_path / strategy / "seed-0"
        run.mkdir(parents=True)
        lines = [json.dumps({"cycle": c, "value": v}) for c, v in enumerate(values)]
        (run / "cycles.jsonl").write_text("\n".join(lines) + "\n")
    cmd = [sys.executable, "benchmarks/bench_stability.py", "--check-runs", str(tmp_path)]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=120)
    assert r.returncode == 1  # coreset fell 33 points from cycle 1 to cycle 2
    assert "| coreset/seed-0 | 3 | 33.00 | 2 | NO |" in r.stdout
    assert "| random/seed-0 | 3 | 0.00 | - | yes |" in r.stdout
    empty = subprocess.run(
        [*cmd[:-1], str(tmp_path / "none")], capture_output=True, text=True, cwd=REPO, timeout=120
    )
    assert empty.returncode == 2 and empty.stderr.startswith("error: no runs")


def test_a_broken_recipe_is_flagged_by_the_cli_the_report_and_the_figure(tmp_path):
    """`task.lr=50` through `python -m vaal_core demo`: every cycle flagged, one report warning
    per cycle, and the curve figure marks every one of those points."""
    import json
    import subprocess
    import sys

    from analysis import load_runs, plot_curves
    from tests.helpers import TINY_OVERRIDES

    sets = [a for o in [*TINY_OVERRIDES, "active.cycles=2", "task.lr=50"] for a in ("--set", o)]
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "vaal_core",
            "demo",
            "experiments/mnist.yaml",
            *sets,
            "--strategies",
            "random",
            "--seeds",
            "0-1",
            "--out",
            str(tmp_path / "res"),
            "--figures",
            str(tmp_path / "fig"),
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr
    recs = [
        json.loads(line)
        for p in sorted((tmp_path / "res").rglob("cycles.jsonl"))
        for line in p.read_text().splitlines()
    ]
    assert len(recs) == 4 and not any(rec["fit_ok"] for rec in recs)
    assert r.stdout.count("UNHEALTHY") == 4  # the CLI's line per cycle
    warned = [
        ln
        for ln in r.stdout.splitlines()
        if ln.startswith("warning: ") and ln.endswith("this point measures training, not selection")
    ]
    assert len(warned) == 4
    assert "Random seed 1 cycle 1" in r.stdout
    fig = plot_curves(load_runs(tmp_path / "res"))
    red_x = [ln for ax in fig.axes for ln in ax.lines if ln.get_marker() == "x"]
    assert sum(len(ln.get_xdata()) for ln in red_x) == 4
