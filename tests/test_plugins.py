"""Extension axes from outside the engine: one plug-in module, written by this test
into a temporary directory and named in `$VAAL_PLUGINS`, registers a dataset layout, a task model,
a strategy, a launcher and a task kind; the real command lines run them. No engine file is edited.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent

PLUGIN = '''
"""A lab's own additions, registered on import."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import submitit
import torch
from torch import nn

from slurm.launchers import Launcher, register_launcher
import torch.nn.functional as F

from vaal_core.train.augment import AUGMENTATIONS
from vaal_core.datasets import DatasetError, ImageData, register_dataset, resize_uint8
from vaal_core.errors import SpecError
from vaal_core.models import register_model
from vaal_core.strategies import Strategy, register_strategy
from vaal_core.tasks import Classification, register_task_kind
from vaal_core.tasks.classification import AccuracyMeter


def _check(root, opts):
    if not (root / "stripes.npz").is_file():
        raise DatasetError(f"stripes not found: expected {root / 'stripes.npz'}")


@register_dataset("stripes", available=_check)
def load_stripes(root, opts, kind="classification"):
    f = np.load(root / "stripes.npz")
    size = opts.image_size or f["train_x"].shape[-1]
    x, tx = (resize_uint8(torch.from_numpy(f[k]), size) for k in ("train_x", "test_x"))
    return ImageData("stripes", x, torch.from_numpy(f["train_y"]), tx,
                     torch.from_numpy(f["test_y"]), num_classes=2, mean=(0.5,), std=(0.25,),
                     task_kind=kind)


class SmoothedMeter(AccuracyMeter):
    def result(self):
        out = super().result()
        out.metric = "accuracy_smoothed_training"
        return out


class SmoothedLabels(Classification):
    """Classification trained on label-smoothed targets (eps 0.2): its own loss and metric name."""

    def loss(self, logits, target):
        return F.cross_entropy(logits, target, label_smoothing=0.2)

    def meter(self, batches, split):
        return SmoothedMeter(batches, split)


register_task_kind(SmoothedLabels("smoothed", "accuracy_smoothed_training", dict(AUGMENTATIONS)))


@register_dataset("stripes_smoothed", available=_check, kind="smoothed")
def load_stripes_smoothed(root, opts):
    return load_stripes(root, opts, kind="smoothed")


@register_model("pooled_linear")
def pooled_linear(in_channels, num_classes):
    return nn.Sequential(nn.AdaptiveAvgPool2d(4), nn.Flatten(), nn.Linear(in_channels * 16, num_classes))


@dataclass(frozen=True)
class LowestIndexOptions:
    skip: int = 0  # spec key baselines.lowest_index_skip: pass over this many first

    def __post_init__(self):
        if self.skip < 0:
            raise SpecError(f"spec key 'baselines.lowest_index_skip' must be >= 0, got {self.skip}")


@register_strategy("lowest_index")
class LowestIndex(Strategy):
    """The unlabeled images with the smallest indices, after the first `skip`."""

    options_type, option_prefix = LowestIndexOptions, "lowest_index_"
    task_kinds = frozenset({"classification", "smoothed"})

    def select(self, ctx, budget):
        skip = self.options.skip
        return np.sort(ctx.pool.unlabeled)[skip : skip + budget]


def _inline(folder, opts):
    Path(folder).parent.mkdir(parents=True, exist_ok=True)
    (Path(folder).parent / "inline-launcher-used").write_text("yes")
    return submitit.DebugExecutor(folder)


register_launcher("inline", Launcher(_inline))
'''

SPEC = {
    "experiment": "plug",
    "dataset": {"name": "stripes"},
    "task": {
        "model": "pooled_linear",
        "iterations": 4,
        "batch_size": 16,
        "eval_batch_size": 256,
        "optimizer": "adam",
        "lr": 1.0e-3,
        "schedule": "cosine",
    },
    "active": {"initial": 8, "budget": 8, "cycles": 2},
    "baselines": {"lowest_index_skip": 2},  # an option the plug-in strategy owns
    "runtime": {"precision": "fp32", "num_threads": 1},
    "strategies": ["lowest_index"],
}


def _stripes(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Grey 16x16 images: horizontal (class 0) or vertical (class 1) stripes plus noise."""
    y = rng.integers(0, 2, n)
    base = (np.arange(16) % 4 < 2).astype(np.float32) * 160
    x = np.where(y[:, None, None] == 0, base[None, :, None], base[None, None, :])
    x = np.broadcast_to(x, (n, 16, 16)) + rng.normal(0, 30, (n, 16, 16))
    return np.clip(x, 0, 255).astype(np.uint8)[:, None], y.astype(np.int64)


@pytest.fixture
def lab(tmp_path: Path) -> dict[str, Path]:
    """The plug-in module, its data on disk and a spec that names all three."""
    (tmp_path / "lab_plugin.py").write_text(textwrap.dedent(PLUGIN))
    data = tmp_path / "data"
    data.mkdir()
    rng = np.random.default_rng(0)
    (train_x, train_y), (test_x, test_y) = _stripes(rng, 64), _stripes(rng, 32)
    np.savez(data / "stripes.npz", train_x=train_x, train_y=train_y, test_x=test_x, test_y=test_y)
    spec = tmp_path / "plug.yaml"
    spec.write_text(yaml.safe_dump(SPEC))
    return {"dir": tmp_path, "data": data, "spec": spec, "out": tmp_path / "results"}


def _run(lab: dict[str, Path], *args: str, plugins: str | None = "lab_plugin"):
    env = dict(os.environ, PYTHONPATH=f"{REPO}{os.pathsep}{lab['dir']}", OMP_NUM_THREADS="1")
    env.pop("VAAL_PLUGINS", None)
    if plugins is not None:
        env["VAAL_PLUGINS"] = plugins
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _pools(run_dir: Path) -> list[np.ndarray]:
    return [np.load(run_dir / f"pool-{c}.npy") for c in range(2)]


def _run_lowest_index(lab: dict[str, Path]) -> tuple[Path, list[dict]]:
    """`python -m vaal_core run` of the lab's spec with the plug-in strategy: (run dir, records)."""
    res = _run(
        lab,
        "vaal_core",
        "run",
        str(lab["spec"]),
        "--strategy",
        "lowest_index",
        "--seed",
        "0",
        "--out",
        str(lab["out"]),
        "--data-root",
        str(lab["data"]),
        "--no-progress",
    )
    assert res.returncode == 0, res.stderr
    run_dir = lab["out"] / "plug" / "lowest_index" / "seed-0"
    lines = (run_dir / "cycles.jsonl").read_text().splitlines()
    return run_dir, [yaml.safe_load(line) for line in lines]


def test_a_plugin_strategy_dataset_and_model_run_through_the_cli(lab):
    run_dir, records = _run_lowest_index(lab)
    assert [r["cycle"] for r in records] == [0, 1]
    assert records[0]["dataset"] == "stripes" and records[0]["metric"] == "accuracy"
    # the plug-in strategy chose, with its own option: the lowest-index unlabeled images after 2
    first, second = _pools(run_dir)
    candidates = np.arange(64)  # no pool_size: every training image is a candidate
    expected = np.union1d(first, np.setdiff1d(candidates, first)[2:10])
    assert np.array_equal(np.sort(second), expected)


def test_a_plugin_launcher_runs_a_sweep(lab):
    res = _run(
        lab,
        "slurm.sweep",
        str(lab["spec"]),
        "--executor",
        "inline",
        "--seeds",
        "0-0",
        "--out",
        str(lab["out"]),
        "--data-root",
        str(lab["data"]),
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert "lowest_index/seed-0  2/2     done" in res.stdout
    assert (lab["out"] / "plug" / ".sweep" / "logs" / "inline-launcher-used").is_file()


def test_without_the_registration_the_names_are_unknown_and_a_bad_module_is_one_error(lab):
    args = (
        "vaal_core",
        "run",
        str(lab["spec"]),
        "--strategy",
        "lowest_index",
        "--seed",
        "0",
        "--out",
        str(lab["out"]),
        "--data-root",
        str(lab["data"]),
    )
    res = _run(lab, *args, plugins=None)  # default: the installed plug-ins only
    assert res.returncode == 2
    assert res.stderr.startswith("error: unknown strategy 'lowest_index'; valid names:")
    assert "entropy" in res.stderr and "vaal" in res.stderr  # found through the entry points
    res = _run(lab, *args, plugins="no_such_lab")
    assert res.returncode == 2 and res.stderr.count("\n") == 1
    assert "VAAL_PLUGINS names module 'no_such_lab', which is not importable" in res.stderr
    assert not lab["out"].exists()


def test_a_bad_value_of_a_plugin_strategys_option_is_one_error_before_any_run(lab):
    res = _run(
        lab,
        "vaal_core",
        "run",
        str(lab["spec"]),
        "--strategy",
        "random",
        "--seed",
        "0",
        "--out",
        str(lab["out"]),
        "--data-root",
        str(lab["data"]),
        "--set",
        "baselines.lowest_index_skip=-1",
    )
    assert res.returncode == 2 and res.stderr.count("\n") == 1, res.stderr
    assert "'baselines.lowest_index_skip' must be >= 0, got -1" in res.stderr
    assert not lab["out"].exists()


def test_a_plugin_task_kind_runs_through_the_cli(lab):
    """A task kind of the plug-in's own (its loss and its meter) with a dataset layout of that kind:
    the loop trains and evaluates through the kind; nothing in the engine names it."""
    spec = yaml.safe_load(lab["spec"].read_text())
    spec["dataset"]["name"], spec["task"]["kind"] = "stripes_smoothed", "smoothed"
    lab["spec"].write_text(yaml.safe_dump(spec))
    _, records = _run_lowest_index(lab)
    assert [r["metric"] for r in records] == ["accuracy_smoothed_training"] * 2
    # a label-smoothed loss never goes below the entropy of its targets (0.325 nats here)
    assert all(r["train_loss"] > 0.325 for r in records)
    # a strategy that does not declare the kind is refused before any run (random, which never
    # reads the model, takes every kind)
    res = _run(
        lab,
        "vaal_core",
        "run",
        str(lab["spec"]),
        "--strategy",
        "entropy",
        "--seed",
        "0",
        "--out",
        str(lab["out"] / "x"),
        "--data-root",
        str(lab["data"]),
    )
    assert res.returncode == 2, res.stderr
    assert (
        "does not support smoothed tasks" in res.stderr
        and "strategies for smoothed: full, lowest_index, random" in res.stderr
    )


def test_a_plugin_adds_to_the_installed_strategies_never_replaces_them(lab):
    """`$VAAL_PLUGINS` names only the lab's module; the baselines and VAAL stay registered."""
    code = (
        "from vaal_core.strategies import STRATEGIES; "
        "print(sorted(n for n in ('lowest_index', 'coreset', 'vaal', 'random') "
        "if n in STRATEGIES.names()))"
    )
    res = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env=dict(
            os.environ, PYTHONPATH=f"{REPO}{os.pathsep}{lab['dir']}", VAAL_PLUGINS="lab_plugin"
        ),
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "['coreset', 'lowest_index', 'random', 'vaal']"


def test_a_mistyped_strategy_gets_a_did_you_mean(lab):
    res = _run(
        lab,
        "vaal_core",
        "run",
        str(lab["spec"]),
        "--strategy",
        "corset",
        "--seed",
        "0",
        "--out",
        str(lab["out"]),
        "--data-root",
        str(lab["data"]),
    )
    assert res.returncode == 2 and res.stderr.count("\n") == 1
    assert "unknown strategy 'corset' (did you mean 'coreset'?)" in res.stderr
