"""`--tensorboard` / VAAL_TENSORBOARD=1: a run's losses, learning rate, validation and cycle
metrics as TensorBoard scalars, read back with TensorBoard's own EventAccumulator."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import TINY_OVERRIDES
from vaal_core.run.loop import ActiveLoop
from vaal_core.run.tensorboard import ENV, STRIDE
from vaal_core.spec import load_spec

pytest.importorskip(
    "tensorboard", reason="tensorboard is an optional extra: pip install tensorboard"
)
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SPEC = REPO / "experiments/mnist.yaml"
# reading windows of 2 steps, a validation split, two cycles: every tag gets several points
EXTRA = ["runtime.log_every=2", "dataset.val_size=40", "active.cycles=2"]
VAAL_TAGS = {f"vaal/{t}" for t in ("vae", "recon", "kl", "adv", "disc")}
TASK_TAGS = {"task/loss", "task/lr", "task/val_metric_pct"}
CYCLE_TAGS = {f"cycle/{t}" for t in ("test_accuracy_pct", "val_accuracy_pct", "train_s", "query_s")}


def _scalars(run_dir: Path) -> dict[str, list]:
    acc = EventAccumulator(str(run_dir / "tensorboard"), size_guidance={"scalars": 0})
    acc.Reload()
    return {tag: acc.Scalars(tag) for tag in acc.Tags()["scalars"]}


def _run(tmp_path, mnist, monkeypatch, on: bool, name: str):
    if on:
        monkeypatch.setenv(ENV, "1")
    else:
        monkeypatch.delenv(ENV, raising=False)
    spec = load_spec(SPEC, [*TINY_OVERRIDES, *EXTRA])
    out = tmp_path / name
    records = ActiveLoop(spec, "vaal", 0, out, progress=False, data=mnist).run()
    return records, out / "tiny" / "vaal" / "seed-0"


def test_a_run_with_the_switch_writes_every_tag_and_computes_the_same(tmp_path, mnist, monkeypatch):
    records, run_dir = _run(tmp_path, mnist, monkeypatch, True, "on")
    scalars = _scalars(run_dir)
    assert set(scalars) >= VAAL_TAGS | TASK_TAGS | CYCLE_TAGS | {"cycle/n_labeled"}

    test = scalars["cycle/test_accuracy_pct"]  # percent, as the tables print it
    assert [e.value for e in test] == pytest.approx([100 * r["value"] for r in records])
    val = scalars["cycle/val_accuracy_pct"]
    assert [e.value for e in val] == pytest.approx([100 * r["val_value"] for r in records])
    assert [e.step for e in test] == [(c + 1) * STRIDE - 1 for c in range(2)]
    assert all(e.step < STRIDE for e in scalars["vaal/vae"])  # the one query is cycle 0's
    assert any(e.step > STRIDE for e in scalars["task/loss"])  # the task trains in both cycles
    # the VAE's loss is the sum of its logged terms, window by window
    terms = zip(*(scalars[f"vaal/{t}"] for t in ("vae", "recon", "kl", "adv")), strict=True)
    for vae, recon, kl, adv in terms:
        assert vae.step == recon.step and vae.value == pytest.approx(
            recon.value + kl.value + adv.value, rel=1e-5
        )
    assert scalars["cycle/query_s"][0].value == pytest.approx(records[0]["query_s"], abs=1e-3)

    # logging changes nothing a run computes: the same selections and metrics with it off
    off, off_dir = _run(tmp_path, mnist, monkeypatch, False, "off")
    assert not (off_dir / "tensorboard").exists()
    keys = ("selected_sha1", "value", "train_loss", "query_stats")
    for a, b in zip(records, off, strict=True):
        a_stats = {k: v for k, v in a["query_stats"].items() if "mem" not in k}
        b_stats = {k: v for k, v in b["query_stats"].items() if "mem" not in k}
        assert a_stats == b_stats
        assert [a[k] for k in keys[:3]] == [b[k] for k in keys[:3]]


def _cli(out: Path, failpoint: str | None) -> subprocess.CompletedProcess:
    args = [sys.executable, "-m", "vaal_core", "run", str(SPEC), "--strategy", "vaal"]
    args += ["--seed", "0", "--out", str(out), "--no-progress", "--tensorboard"]
    for o in [*TINY_OVERRIDES, *EXTRA[:2]]:  # three cycles
        args += ["--set", o]
    env = {k: v for k, v in os.environ.items() if k not in ("VAAL_FAILPOINT", ENV)}
    if failpoint:
        env["VAAL_FAILPOINT"] = failpoint
    return subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)


def test_a_killed_run_resumes_its_log_without_duplicated_steps(tmp_path):
    out = tmp_path / "out"
    killed = _cli(out, "after_query:1")  # cycle 1 trained and queried, not committed
    assert killed.returncode == -9, killed.stderr
    run_dir = out / "tiny" / "vaal" / "seed-0"
    before = _scalars(run_dir)["vaal/vae"]
    assert any(e.step > STRIDE for e in before), "the killed cycle's events reached the disk"
    done = _cli(out, None)
    assert done.returncode == 0, done.stderr
    assert len(list((run_dir / "tensorboard").glob("events.out.tfevents.*"))) == 2

    scalars = _scalars(run_dir)
    assert set(scalars) >= VAAL_TAGS | TASK_TAGS | CYCLE_TAGS
    for tag, events in scalars.items():
        steps = [e.step for e in events]
        assert steps == sorted(set(steps)), f"{tag}: steps repeated or out of order: {steps}"
    assert len(scalars["cycle/test_accuracy_pct"]) == 3


def test_logging_adds_no_host_read_to_the_vaal_steps(tmp_path, mnist, monkeypatch):
    """The loss terms stay on the device between reads; the log gets each read's window."""
    import numpy as np

    from tests.test_hotloop import _profiled, _vaal_spec
    from tests.test_vaal import _ctx, _slice
    from vaal_core.run import tensorboard
    from vaal_core.vaal import VAALStrategy

    monkeypatch.setenv(ENV, "1")
    spec = _vaal_spec()
    ctx = _ctx(spec, _slice(mnist), labeled=np.arange(40), candidates=np.arange(600))
    with tensorboard.run_log(tmp_path, 0, []), tensorboard.phase("query", 0):
        count = _profiled(lambda: VAALStrategy(spec).train(ctx))
    assert count.outside == 0, f"host syncs inside the VAAL steps: {count.names}"
    assert count.reads == 3  # as with logging off: one read per window
    scalars = _scalars(tmp_path)
    assert [e.step for e in scalars["vaal/recon"]] == [3, 6, 8]
    assert ctx.stats["vaal_vae_loss"] == pytest.approx(scalars["vaal/vae"][-1].value, rel=1e-5)
    assert "vaal_recon_loss" not in ctx.stats  # the record keeps what it kept without logging


def test_the_switch_without_the_package_is_one_error_line(tmp_path, monkeypatch, capsys):
    from vaal_core.__main__ import main

    monkeypatch.delenv(ENV, raising=False)
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # as if not installed
    args = ["run", str(SPEC), "--strategy", "random", "--seed", "0", "--out", str(tmp_path)]
    assert main([*args, "--tensorboard", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --tensorboard") and "pip install" in err[0]
    assert not any(tmp_path.iterdir()), "nothing runs"
