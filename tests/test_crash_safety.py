"""Crash safety, proven deterministically: die at every failpoint, resume, compare.

Each kill is a failpoint (`VAAL_FAILPOINT=<name>:<cycle>`) at which the child sends itself
SIGKILL, so every test knows exactly where the run died; nothing here depends on how fast the
machine is. One soak test kills at a random moment and asserts equivalence only.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import TINY_OVERRIDES
from vaal_core.failpoints import FAILPOINTS
from vaal_core.run.loop import ActiveLoop
from vaal_core.run.runlog import read_records, reproducible_part
from vaal_core.spec import load_spec

REPO = Path(__file__).resolve().parent.parent
CYCLES = 4
WARM = ["protocol.reset_task_each_cycle=false", "vaal.reset_each_cycle=false"]


def stable(records):
    return [reproducible_part(r) for r in records]


def cli(out: Path, strategy: str, extra=(), failpoint: str | None = None, wait=False):
    args = [
        sys.executable,
        "-m",
        "vaal_core",
        "run",
        "experiments/mnist.yaml",
        "--strategy",
        strategy,
        "--seed",
        "0",
        "--out",
        str(out),
        "--no-progress",
    ]
    for o in [*TINY_OVERRIDES, *extra]:
        args += ["--set", o]
    if wait:
        args.append("--wait")
    env = {k: v for k, v in os.environ.items() if k != "VAAL_FAILPOINT"}
    if failpoint:
        env["VAAL_FAILPOINT"] = failpoint
    return args, env


def run_cli(out, strategy, extra=(), failpoint=None):
    args, env = cli(out, strategy, extra, failpoint)
    return subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True)


def reference(tmp_path, mnist, strategy, extra):
    """The uninterrupted run, in-process, of exactly the spec the CLI runs."""
    spec = load_spec(REPO / "experiments/mnist.yaml", [*TINY_OVERRIDES, *extra])
    out = tmp_path / "ref"
    records = ActiveLoop(spec, strategy, 0, out, progress=False, data=mnist).run()
    return records, out / "tiny" / strategy / "seed-0"


# (failpoint, records committed when it fires): every window between two durable writes,
# chained through one run directory; the commit windows are hit at cycle 1, where a resume
# must also restore carried state.
CHAIN = [
    ("after_spec:0", 0),
    ("after_env:0", 0),
    ("after_train:0", 0),
    ("after_record:0", 1),
    ("after_query:1", 1),
    ("after_pool:1", 1),
    ("after_state:1", 1),
    ("mid_record:1", 1),
    ("strategy_training:2", 2),
    ("after_record:2", 3),
]
# random and cold VAAL: the windows whose resume differs by strategy (the trained model, the
# query, a cut-off record, VAAL's own training); warm VAAL, whose state is carried, takes every
# window of CHAIN (each CLI start is ~3 s of imports, so the full chain runs once)
SHORT_CHAIN = {"after_train:0", "after_query:1", "mid_record:1", "strategy_training:2"}


@pytest.mark.parametrize(
    "strategy, extra",
    [("random", []), ("vaal", []), ("vaal", WARM)],
    ids=["random", "vaal", "vaal-warm"],
)
def test_die_at_every_failpoint_then_resume_equals_uninterrupted(tmp_path, mnist, strategy, extra):
    extra = [f"active.cycles={CYCLES}", *extra]
    ref_records, ref_dir = reference(tmp_path, mnist, strategy, extra)
    out = tmp_path / "killed"
    run_dir = out / "tiny" / strategy / "seed-0"
    log = run_dir / "cycles.jsonl"
    fired = set()
    full = bool(extra[1:])  # the warm variant
    for point, committed in CHAIN:
        if point.startswith("strategy_training") and strategy == "random":
            continue  # random has no training of its own
        if not full and point not in SHORT_CHAIN:
            continue
        proc = run_cli(out, strategy, extra, failpoint=point)
        assert proc.returncode == -signal.SIGKILL, f"{point} did not fire: {proc.stderr[-800:]}"
        lines = log.read_bytes().count(b"\n") if log.exists() else 0
        assert lines == committed, f"{point}: {lines} records committed, expected {committed}"
        fired.add(point.split(":")[0])
        if point == "after_spec:0":
            assert not (run_dir / "env.json").exists()
        if point == "after_env:0":
            assert not (run_dir / "pool-0.npy").exists()
        if point == "after_pool:1":
            assert (run_dir / "pool-2.npy").exists()
        if point == "after_state:1" and extra[1:]:
            assert (run_dir / "state-1.pt").exists() and (run_dir / "state-0.pt").exists()
        if point == "mid_record:1":
            assert not log.read_bytes().endswith(b"\n")  # a cut-off line, repaired on resume
    if full:
        # every run-directory failpoint (the cache's own: tests/test_cache_integrity.py)
        run_points = {n for n in FAILPOINTS if not n.startswith("cache_")}
        assert fired == run_points, "every failpoint is exercised"

    done = run_cli(out, strategy, extra)
    assert done.returncode == 0, done.stderr
    assert stable(read_records(log)) == stable(ref_records)
    for c in range(CYCLES):
        assert np.array_equal(
            np.load(run_dir / f"pool-{c}.npy"), np.load(ref_dir / f"pool-{c}.npy")
        )
    leftovers = sorted(p.name for p in run_dir.iterdir())
    expected_files = sorted(p.name for p in ref_dir.iterdir())
    assert leftovers == expected_files, "no temporary or stale files are left"


def test_soak_kill_at_a_random_moment_then_resume(tmp_path, mnist):
    """A kill at an arbitrary moment: asserts only that the resumed run equals the reference."""
    extra = [f"active.cycles={CYCLES}"]
    ref_records, _ = reference(tmp_path, mnist, "vaal", extra)
    out = tmp_path / "soak"
    args, env = cli(out, "vaal", extra)
    proc = subprocess.Popen(
        args, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        proc.wait(timeout=random.uniform(2.0, 12.0))
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    done = run_cli(out, "vaal", extra)
    assert done.returncode == 0, done.stderr
    log = out / "tiny" / "vaal" / "seed-0" / "cycles.jsonl"
    assert stable(read_records(log)) == stable(ref_records)
    assert not list(log.parent.glob(".*.tmp"))


def test_unknown_failpoint_is_an_error_before_anything_is_written(tmp_path):
    proc = run_cli(tmp_path, "random", failpoint="after_lunch:1")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]
    assert proc.stderr.startswith("error: VAAL_FAILPOINT='after_lunch:1' names no failpoint")
    assert "after_pool" in proc.stderr
    assert not (tmp_path / "tiny").exists()
