"""Shipped specs, protocol presets, learning-rate schedules and the device-side augmentations."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from vaal_core.spec import SpecError, initial_train_size, load_spec, spec_from_dict
from vaal_core.train.augment import AUGMENTATIONS, random_resized_crop_flip
from vaal_core.train.schedules import build_optimization, total_iterations
from vaal_core.vaal.game import vaal_iterations
from vaal_core.vaal.options import VAALOptions

REPO = Path(__file__).resolve().parent.parent
SPECS = sorted((REPO / "experiments").glob("*.yaml"))
# the paper's compared methods, then the full-data top-line its figures draw as a dashed line
PAPER_STRATEGIES = ["random", "vaal", "coreset", "mc_dropout", "dbal", "ensemble_varr", "full"]


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
@pytest.mark.parametrize(
    "protocol", [None, "paper", "release", "modern", "standard", "paper-exact", "release-exact"]
)
def test_every_shipped_spec_validates_under_every_protocol(path, protocol):
    spec = load_spec(path, protocol=protocol)
    assert spec.protocol.name == (protocol or yaml_protocol(path))


def yaml_protocol(path: Path) -> str:
    import yaml

    p = yaml.safe_load(path.read_text()).get("protocol", "standard")
    return p if isinstance(p, str) else p.get("name", "standard")


@pytest.mark.parametrize(
    "name, model, initial, budget, cycles, final",
    [
        ("cifar10", "vgg16_bn", 5000, 2500, 7, 0.40),
        ("cifar100", "vgg16_bn", 5000, 2500, 7, 0.40),
        ("imagenet", "resnet18", 128120, 64060, 5, 0.30),
    ],
)
def test_paper_budgets_and_seeds(name, model, initial, budget, cycles, final):
    spec = load_spec(REPO / "experiments" / f"{name}.yaml")
    n = 50000 if name.startswith("cifar") else 1281167
    a = spec.active
    assert (spec.task.model, a.initial, a.budget, a.cycles) == (model, initial, budget, cycles)
    assert (a.initial + a.budget * (a.cycles - 1)) / n == pytest.approx(final, abs=1e-4)
    assert list(spec.seeds) == [0, 1, 2, 3, 4] and list(spec.strategies) == PAPER_STRATEGIES


def test_preset_fills_defaults_but_the_spec_and_overrides_win():
    base = {"experiment": "x", "protocol": "release"}
    spec = spec_from_dict(base)
    assert (spec.task.optimizer, spec.task.lr, spec.task.epoch_basis) == ("sgd", 0.01, "train_set")
    assert VAALOptions.of(spec).disc_layers == 2 and spec.dataset.val_fraction == 0.1
    spec = spec_from_dict(base | {"task": {"lr": 0.05}, "vaal": {"disc_layers": 3}})
    assert (
        spec.task.lr == 0.05
        and VAALOptions.of(spec).disc_layers == 3
        and spec.task.optimizer == "sgd"
    )
    # --protocol wins over the spec's name; --set wins over both
    spec = load_spec(REPO / "experiments/cifar10.yaml", ["task.lr=0.002"], protocol="modern")
    assert spec.protocol.name == "modern" and spec.task.schedule == "cosine"
    assert spec.task.lr == 0.002 and spec.protocol.val_counts_against_budget


def test_paper_preset_matches_395da2e_without_its_bugs():
    p = spec_from_dict({"experiment": "x", "protocol": "paper"})
    assert (p.task.optimizer, p.task.lr, p.task.iterations) == ("adam", 5e-4, 100000)
    v = VAALOptions.of(p)
    assert (v.disc_layers, v.num_vae_steps, v.match_task_iterations) == (4, 1, True)
    assert p.dataset.val_size == 0 and p.protocol.initial_size == "spec"


def test_unknown_protocol_lists_valid_names():
    with pytest.raises(
        SpecError,
        match=r"unknown protocol 'papr' \(did you mean 'paper'\?\); valid: standard, modern, "
        "paper, paper-exact, release, release-exact",
    ):
        spec_from_dict({"experiment": "x", "protocol": "papr"})


def test_validation_paid_from_the_budget():
    spec = spec_from_dict(
        {
            "experiment": "x",
            "protocol": "modern",
            "active": {"initial": 500, "budget": 100, "cycles": 3},
        }
    )
    assert initial_train_size(spec, 50) == 450
    with pytest.raises(SpecError, match="dataset.val_size"):
        spec_from_dict(
            {
                "experiment": "x",
                "protocol": {"name": "modern"},
                "dataset": {"val_size": 600, "val_fraction": None},
                "active": {"initial": 500},
            }
        )


def _lrs(spec, n_labeled, n_train, steps):
    """lr at optimiser step s (0-based); checks LambdaLR's stepping on the first steps too."""
    model = torch.nn.Linear(2, 2)
    opt, sched, total = build_optimization(model.parameters(), spec.task, n_labeled, n_train)
    factor = sched.lr_lambdas[0]
    for s in range(3):
        assert opt.param_groups[0]["lr"] == pytest.approx(spec.task.lr * factor(s))
        opt.step()
        sched.step()
    return {s: spec.task.lr * factor(s) for s in steps}, total


def test_paper_schedule_is_x09_every_4000_of_100000():
    spec = spec_from_dict({"experiment": "x", "protocol": "paper"})
    lrs, total = _lrs(spec, 5000, 50000, [0, 3999, 4000, 8000])
    assert total == 100000
    assert lrs[0] == lrs[3999] == pytest.approx(5e-4)
    assert lrs[4000] == pytest.approx(4.5e-4) and lrs[8000] == pytest.approx(5e-4 * 0.81)


def test_release_schedule_is_div10_every_quarter_of_39062():
    spec = spec_from_dict({"experiment": "x", "protocol": "release"})
    lrs, total = _lrs(spec, 5000, 50000, [9764, 9765, 19530, 39059, 39060])
    assert total == 50000 * 100 // 128 == 39062  # whatever the labeled size
    assert lrs[9764] == pytest.approx(0.01) and lrs[9765] == pytest.approx(1e-3)
    assert lrs[19530] == pytest.approx(1e-4) and lrs[39060] == pytest.approx(1e-6)
    assert vaal_iterations(spec, 5000, 50000, 45000) == 39062  # trained alongside, as the original


def test_modern_schedule_is_cosine_over_epochs_of_the_labeled_set():
    spec = spec_from_dict({"experiment": "x", "protocol": "modern", "task": {"batch_size": 100}})
    assert total_iterations(spec.task, 1001, 50000) == 11 * 200
    lrs, total = _lrs(spec, 1000, 50000, [0, 1000])
    assert total == 2000 and lrs[1000] == pytest.approx(0.05)


# ----------------------------------------------------------------------------- augmentations
def test_full_image_resized_crop_is_identity_or_exact_flip():
    x = torch.randint(0, 256, (16, 3, 12, 12), dtype=torch.uint8)
    g = torch.Generator().manual_seed(0)
    y = random_resized_crop_flip(x, 12, g, scale=(1.0, 1.0), ratio=(1.0, 1.0))
    # bilinear sampling at exact pixel centres: equal up to float rounding
    same = ((y - x.float()).abs() < 1e-3).flatten(1).all(1)
    flipped = ((y - x.flip(-1).float()).abs() < 1e-3).flatten(1).all(1)
    assert (same | flipped).all() and same.any() and flipped.any()


def test_resized_crops_differ_per_image_and_keep_range():
    x = torch.arange(64 * 64, dtype=torch.float32).view(1, 1, 64, 64).expand(8, 3, 64, 64)
    y = random_resized_crop_flip(x.to(torch.uint8), 32, torch.Generator().manual_seed(1))
    assert y.shape == (8, 3, 32, 32) and y.min() >= 0 and y.max() <= 255
    assert len({tuple(v.flatten()[:5].tolist()) for v in y}) == 8


@pytest.mark.parametrize("kind", sorted(AUGMENTATIONS))
def test_augmentations_are_seeded(kind):
    x = torch.randint(0, 256, (4, 3, 40, 40), dtype=torch.uint8)
    a = AUGMENTATIONS[kind](x, 32, torch.Generator().manual_seed(5))
    b = AUGMENTATIONS[kind](x, 32, torch.Generator().manual_seed(5))
    assert a.shape == (4, 3, 32, 32) and torch.equal(a, b)


# ----------------------------------------------------------------------------- CLI
def test_reproduce_cifar10_stops_before_compute_naming_the_path(tmp_path):
    """What `make reproduce-cifar10` runs, with no CIFAR-10 under the data root and no network."""
    env = os.environ | {"VAAL_NO_DOWNLOAD": "1"}
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "vaal_core",
            "demo",
            "experiments/cifar10.yaml",
            "--strategies",
            "random,vaal",
            "--data-root",
            str(tmp_path / "data"),
            "--out",
            str(tmp_path / "res"),
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        env=env,
    )
    assert r.returncode == 2, r.stderr
    assert f"expected {tmp_path / 'data' / 'cifar-10-batches-py'}" in r.stderr
    assert "cifar-10-python.tar.gz" in r.stderr and "data_batch_1" in r.stderr
    assert not list((tmp_path / "res").rglob("cycles.jsonl"))
    assert np.all([not p.name.startswith("pool-") for p in (tmp_path / "res").rglob("*")])
