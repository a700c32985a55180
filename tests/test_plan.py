"""The sweep planner (slurm/plan.py): its numbers for a small spec against arithmetic done by
hand from the networks' layer shapes and the spec, and `--plan` writes and submits nothing."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

from slurm.plan import accelerator_rate, plan_experiment
from slurm.sweep import main as sweep
from vaal_core.spec import spec_from_dict

SPEC = {
    "experiment": "plan_small",
    "dataset": {"name": "mnist", "pool_size": 1000, "test_size": 200, "image_size": 32},
    "task": {"model": "small_cnn", "iterations": 10, "batch_size": 16},
    "active": {"initial": 100, "budget": 50, "cycles": 3},
    "vaal": {"image_size": 32, "width": 8, "epochs": 1.0, "batch_size": 128},
    "runtime": {"precision": "fp32"},
    "strategies": ["random", "coreset", "vaal"],
    "seeds": [0, 1],
}

# small_cnn on a 1x32x32 image, 2 FLOPs per multiply-add (vaal_core/models/__init__.py):
CONV1 = 32 * 32 * 16 * (1 * 9) * 2  # 3x3, 1 -> 16 channels at 32x32
CONV2 = 16 * 16 * 32 * (16 * 9) * 2  # after a 2x2 max-pool
CONV3 = 8 * 8 * 32 * (32 * 9) * 2
FC = 32 * 16 * 10 * 2  # 4x4 adaptive pool, 512 -> 10
FORWARD = CONV1 + CONV2 + CONV3 + FC  # 3,844,096
# backward: a gradient for the input and one for the weights of every layer (each as many FLOPs
# as its forward), except the first convolution, whose input needs no gradient
TRAIN = 3 * FORWARD - CONV1


def _plan():
    spec = spec_from_dict(SPEC)
    return spec, plan_experiment(spec, list(spec.strategies), list(spec.seeds))


def test_model_flops_equal_the_hand_count():
    _, plan = _plan()
    assert FORWARD == 3_844_096
    assert plan.costs.forward == FORWARD
    assert plan.costs.train == TRAIN
    assert plan.costs.features == 512


def test_per_cycle_images_and_flops_equal_the_hand_arithmetic():
    _, plan = _plan()
    random, coreset, vaal = plan.runs
    assert [c.labeled for c in random.cycles] == [100, 150, 200]
    for run in plan.runs:
        for c in run.cycles:
            assert c.trained == 10 * 16  # fixed iterations x batch, whatever the labeled size
            assert c.flops["train"] == 160 * TRAIN
            assert c.flops["eval"] == (200 + c.labeled) * FORWARD  # test set + fit check
    # core-set: features of the whole pool, then k-center 2 d (L + b) U
    c0 = coreset.cycles[0]
    assert c0.scored == 1000 and c0.flops["score"] == 1000 * FORWARD
    assert c0.flops["own"] == 2 * 512 * (100 + 50) * 900
    assert c0.own_bytes == 4 * 512 * 900 * 50
    assert "own" not in coreset.cycles[-1].flops  # the last cycle does not query
    # VAAL: ceil(epochs x pool / batch) iterations (vaal.epochs passes over the whole pool, as
    # vaal_core/vaal/strategy.py asks), and the unlabeled pool scored once
    assert vaal.cycles[0].flops["vaal"] == math.ceil(1000 / 128) * plan.costs.vaal_iter
    assert vaal.cycles[1].flops["vaal"] == vaal.cycles[0].flops["vaal"]
    assert vaal.cycles[0].scored == 900
    assert random.flops("score") == 0


@pytest.mark.parametrize("topline, steps", [("same", 10), ("passes", 50)])
def test_the_top_line_is_priced_as_task_topline_trains_it(topline, steps):
    """`passes`: the largest labeled set (100 + 2 x 50 = 200 images) gets 10 steps, so the pool of
    1,000 gets 10 x 1,000 / 200 = 50; `same`: the 10 steps as written."""
    spec = spec_from_dict({**SPEC, "task": {**SPEC["task"], "topline": topline}})
    (full,) = plan_experiment(spec, ["full"], [0]).runs
    assert [c.trained for c in full.cycles] == [steps * 16]
    assert full.cycles[0].flops["train"] == steps * 16 * TRAIN


def test_hours_and_disk_equal_the_hand_arithmetic():
    _, plan = _plan()
    rate = accelerator_rate("a100", 0.5, "fp32")
    flops_s, bytes_s = 19.5e12 * 0.5, 2.039e12 * 0.5  # datasheet FP32 and bandwidth, x 0.5
    assert rate.flops_per_s == pytest.approx(flops_s) and rate.bytes_per_s == pytest.approx(bytes_s)
    random, coreset, _ = plan.runs
    evals = sum(200 + labeled for labeled in (100, 150, 200)) * FORWARD
    assert random.seconds(rate) == pytest.approx((3 * 160 * TRAIN + evals) / flops_s)
    own = sum(max(c.flops.get("own", 0) / flops_s, c.own_bytes / bytes_s) for c in coreset.cycles)
    assert coreset.seconds(rate, "own") == pytest.approx(own)
    per_run = sum(128 + 8 * labeled + 4096 for labeled in (100, 150, 200)) + 3 * 4096
    full_runs = 3 * per_run * 2  # three strategies of three cycles, two seeds
    assert plan.disk_runs == full_runs
    assert plan.disk_cache == 0  # MNIST is held in memory


def test_bf16_prices_on_the_tensor_peak():
    assert accelerator_rate("h100", 1.0, "bf16").flops_per_s == 989e12
    assert accelerator_rate("v100", 1.0, "fp16").flops_per_s == 125e12


def test_plan_prints_and_writes_nothing(tmp_path, capsys):
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(SPEC))
    out = tmp_path / "out"
    before = sorted(Path(tmp_path).rglob("*"))
    rc = sweep([str(spec), "--out", str(out), "--executor", "local", "--plan", "--gpu", "a100"])
    text = capsys.readouterr().out
    assert rc == 0
    assert sorted(Path(tmp_path).rglob("*")) == before  # no run directory, manifest or log
    assert "plan: plan_small: 3 strategies x 2 seeds = 6 runs" in text
    assert "a100: 19.5 TFLOP/s fp32 peak x 0.4" in text
    assert "assumptions:" in text


def test_an_unknown_accelerator_is_one_error_line(tmp_path, capsys):
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(SPEC))
    rc = sweep([str(spec), "--out", str(tmp_path / "o"), "--plan", "--gpu", "tpu9"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1
    assert err[0].startswith("error: unknown accelerator 'tpu9'; known: h100")
    assert not (tmp_path / "o").exists()
