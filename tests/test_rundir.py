"""One process per run directory, named errors for every damaged file, extending a finished run."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from tests.helpers import TINY_OVERRIDES, tiny_spec
from vaal_core.errors import RunDirConflict, RunDirError, RunLocked
from vaal_core.run.loop import ActiveLoop
from vaal_core.run.rundir import RunDir, another_spec, spec_changes
from vaal_core.run.runlog import read_records, reproducible_part

REPO = Path(__file__).resolve().parent.parent
WARM = {"protocol": {"reset_task_each_cycle": False}}


def stable(records):
    return [reproducible_part(r) for r in records]


def run(spec, out, mnist, strategy="random"):
    return ActiveLoop(spec, strategy, 0, out, progress=False, data=mnist).run()


def cli_args(out, extra=(), wait=False):
    args = [
        sys.executable,
        "-m",
        "vaal_core",
        "run",
        "experiments/mnist.yaml",
        "--strategy",
        "random",
        "--seed",
        "0",
        "--out",
        str(out),
        "--no-progress",
    ]
    for o in [*TINY_OVERRIDES, "active.cycles=2", *extra]:
        args += ["--set", o]
    return args + (["--wait"] if wait else [])


def one_error_line(proc) -> str:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    return lines[0]


# ---------------------------------------------------------------- lock


def test_a_locked_run_dir_is_refused_at_once_naming_the_holder(tmp_path):
    run_dir = RunDir(tmp_path / "tiny" / "random" / "seed-0")
    with run_dir.locked():  # this test process is the live holder
        proc = subprocess.run(cli_args(tmp_path), cwd=REPO, capture_output=True, text=True)
    line = one_error_line(proc)
    assert "is in use by another process" in line and "--wait" in line
    assert f"pid {os.getpid()}" in line
    assert not (run_dir.path / "cycles.jsonl").exists()


def test_wait_blocks_until_the_holder_releases(tmp_path):
    run_dir = RunDir(tmp_path / "tiny" / "random" / "seed-0")
    err = tmp_path / "stderr.txt"
    with run_dir.locked():
        with open(err, "w") as f:
            proc = subprocess.Popen(
                cli_args(tmp_path, wait=True), cwd=REPO, stderr=f, stdout=subprocess.DEVNULL
            )
        # an event, not a deadline: the child says it is waiting (a hang is pytest-timeout's)
        while "waiting for" not in err.read_text() and proc.poll() is None:
            time.sleep(0.05)
        assert proc.poll() is None, err.read_text()
        assert not (run_dir.path / "cycles.jsonl").exists()  # nothing written while waiting
    assert proc.wait() == 0, err.read_text()
    assert len(read_records(run_dir.path / "cycles.jsonl")) == 2


def test_two_concurrent_launches_leave_one_set_of_records(tmp_path):
    procs = [
        subprocess.Popen(
            cli_args(tmp_path),
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    codes = sorted(code for code, _ in results)
    # either the second found the lock taken, or it started after the first had finished
    assert codes in ([0, 0], [0, 2]), results
    for code, err in results:
        if code == 2:
            assert "in use by another process" in err
    records = read_records(tmp_path / "tiny" / "random" / "seed-0" / "cycles.jsonl")
    assert [r["cycle"] for r in records] == [0, 1]


# ---------------------------------------------------------------- damaged files


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory, mnist):
    """A warm-started run killed after committing cycle 1 of 3 (a finished run, last line cut)."""
    out = tmp_path_factory.mktemp("interrupted")
    run(tiny_spec(**WARM), out, mnist)
    run_dir = out / "tiny" / "random" / "seed-0"
    lines = (run_dir / "cycles.jsonl").read_text().splitlines(keepends=True)
    (run_dir / "cycles.jsonl").write_text("".join(lines[:2]))
    assert (run_dir / "state-1.pt").exists()
    return run_dir


def damaged(tmp_path, interrupted, damage):
    out = tmp_path / "out"
    shutil.copytree(interrupted, out / "tiny" / "random" / "seed-0")
    damage(out / "tiny" / "random" / "seed-0")
    return out


CASES = {
    "pool junk": (
        lambda d: (d / "pool-1.npy").write_bytes(b"\x93NUMPY junk" * 9),
        r"pool-1.npy is not a readable index array.*restore it or delete the run directory",
    ),
    "pool pickled": (
        lambda d: np.save(d / "pool-2.npy", np.array([{"a": 1}], dtype=object)),
        r"pool-2.npy is not a readable index array",
    ),
    "pool missing": (lambda d: (d / "pool-2.npy").unlink(), r"pool-2.npy is missing"),
    "pool edited": (
        lambda d: np.save(d / "pool-1.npy", np.arange(80)),
        r"pool-1.npy does not match the record of cycle 1",
    ),
    "pool not a superset": (
        lambda d: np.save(d / "pool-2.npy", np.arange(120)),
        r"pool-2.npy is not pool-1 plus the indices cycle 1 selected",
    ),
    "spec unparseable": (
        lambda d: (d / "spec.yaml").write_text("experiment: [unclosed\n"),
        r"spec.yaml is not readable YAML",
    ),
    "spec missing": (lambda d: (d / "spec.yaml").unlink(), r"spec.yaml is missing but .* holds"),
    "env missing": (
        lambda d: (d / "env.json").unlink(),
        r"env.json is missing although the run has started",
    ),
    "env junk": (lambda d: (d / "env.json").write_text("{not json"), r"env.json is not valid JSON"),
    "state missing": (
        lambda d: (d / "state-1.pt").unlink(),
        r"state-1.pt is missing; it carries the warm-started state into cycle 2",
    ),
    "state truncated": (
        lambda d: (d / "state-1.pt").write_bytes((d / "state-1.pt").read_bytes()[:100]),
        r"state-1.pt is not a readable state file",
    ),
    "record corrupt": (
        lambda d: (d / "cycles.jsonl").write_text('{"cycle": 0}\n{oops\n'),
        r"cycles.jsonl:2: corrupt record",
    ),
    "records lost": (lambda d: (d / "cycles.jsonl").write_text(""), r"records were lost"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_damaged_file_is_named_before_any_compute(tmp_path, interrupted, mnist, case):
    damage, message = CASES[case]
    out = damaged(tmp_path, interrupted, damage)
    with pytest.raises(RunDirError, match=message):
        ActiveLoop(tiny_spec(**WARM), "random", 0, out, progress=False, data=mnist).run()


def test_cli_turns_a_damaged_run_into_one_error_line(tmp_path):
    out = tmp_path / "out"
    first = subprocess.run(cli_args(out), cwd=REPO, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    (out / "tiny" / "random" / "seed-0" / "pool-1.npy").write_bytes(b"junk")
    (out / "tiny" / "random" / "seed-0" / "cycles.jsonl").write_text(
        (out / "tiny" / "random" / "seed-0" / "cycles.jsonl").read_text().splitlines()[0] + "\n"
    )
    line = one_error_line(subprocess.run(cli_args(out), cwd=REPO, capture_output=True, text=True))
    assert "pool-1.npy is not a readable index array" in line


def test_cli_expected_failures_are_one_error_line(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    line = one_error_line(
        subprocess.run(cli_args(blocker / "results"), cwd=REPO, capture_output=True, text=True)
    )
    assert f"cannot create the run directory {blocker / 'results'}" in line
    env = {**os.environ, "DATA_ROOT": str(blocker / "data")}
    proc = subprocess.run(
        cli_args(tmp_path / "r"), cwd=REPO, capture_output=True, text=True, env=env
    )
    assert "DATA_ROOT" in one_error_line(proc) and str(blocker) in proc.stderr
    proc = subprocess.run(
        cli_args(tmp_path / "r", ["runtime.device=cuda"]), cwd=REPO, capture_output=True, text=True
    )
    if torch.cuda.is_available():
        assert proc.returncode == 0, proc.stderr
    else:
        assert "no CUDA device is visible" in one_error_line(proc)
    proc = subprocess.run(
        cli_args(tmp_path / "r", ["active.budget=oops"]), cwd=REPO, capture_output=True, text=True
    )
    assert "spec key 'active.budget' must be an integer" in one_error_line(proc)


# ---------------------------------------------------------------- extending a run


@pytest.mark.parametrize("sections", [{}, WARM], ids=["cold", "warm"])
def test_raising_cycles_extends_a_finished_run(tmp_path, mnist, sections):
    full = run(tiny_spec(active={"cycles": 4}, **sections), tmp_path / "full", mnist)
    out = tmp_path / "ext"
    short = run(tiny_spec(active={"cycles": 2}, **sections), out, mnist)
    assert short[-1]["selected_sha1"] is None
    extended = run(tiny_spec(active={"cycles": 4}, **sections), out, mnist)
    assert stable(extended) == stable(full)
    run_dir = out / "tiny" / "random" / "seed-0"
    assert stable(read_records(run_dir / "cycles.jsonl")) == stable(full)
    stored = yaml.safe_load((run_dir / "spec.yaml").read_text())
    assert stored["active"]["cycles"] == 4
    assert stored["extensions"][0]["from_cycles"] == 2 and stored["extensions"][0]["to_cycles"] == 4


def test_a_run_is_never_shortened_and_other_changes_are_refused(tmp_path, mnist):
    run(tiny_spec(active={"cycles": 2}), tmp_path, mnist)
    log = tmp_path / "tiny" / "random" / "seed-0" / "cycles.jsonl"
    before = log.read_bytes()
    with pytest.raises(RunDirConflict, match="never shortened"):
        run(tiny_spec(active={"cycles": 1}), tmp_path, mnist)
    with pytest.raises(RunDirConflict, match="another spec"):
        run(tiny_spec(active={"cycles": 3, "budget": 20}), tmp_path, mnist)
    assert log.read_bytes() == before


def test_a_changed_spec_is_refused_naming_what_differs_and_the_ways_out(tmp_path, mnist):
    run(tiny_spec(active={"cycles": 2}), tmp_path, mnist)
    changed = tiny_spec(
        active={"cycles": 3},
        task={"lr": 0.1},
        vaal={"width": 16},
        protocol={"quirks": ["drop_last"]},
    )
    with pytest.raises(RunDirConflict) as refused:
        run(changed, tmp_path, mnist)
    message = str(refused.value)
    assert "what differs (stored -> this): " in message
    listed = message.split("what differs (stored -> this): ")[1].split(". ")[0]
    assert listed.split(", ") == [
        'protocol.quirks: (not set) -> ["drop_last"]',
        "task.lr: 0.05 -> 0.1",
        "vaal.width: 8 -> 16",
    ]  # active.cycles changed too, but alone it only extends a run: never named
    assert "another --out, or --set experiment=NAME" in message
    # the second way out: the same spec under another experiment name is another directory
    renamed = run(dataclasses.replace(changed, experiment="tiny_lr"), tmp_path, mnist)
    assert len(renamed) == 3 and (tmp_path / "tiny_lr" / "random" / "seed-0").is_dir()


def test_spec_changes_counts_what_it_does_not_show():
    spec = tiny_spec()
    stored = {"spec_hash": "0", **spec.to_dict()}
    stored["task"] = {**stored["task"], **{k: 1 for k in ("lr", "momentum", "weight_decay")}}
    stored["vaal"] = {**stored["vaal"], **{k: 3 for k in ("beta", "latent_dim", "width")}}
    stored["vaal"] |= {"num_vae_steps": 7, "num_adv_steps": 7, "batch_size": 7}
    changes = spec_changes(stored, spec)
    assert len(changes) == 9 and changes[0] == "task.lr: 1 -> 0.05"
    message = str(another_spec(Path("x"), stored, spec))
    listed = message.split("what differs (stored -> this): ")[1].split(". ")[0]
    assert listed.count(" -> ") == 8 and listed.endswith(" and 1 more")


def test_run_dir_lock_is_reentrant_across_sequential_runs(tmp_path):
    run_dir = RunDir(tmp_path / "x")
    with run_dir.locked():
        pass
    with run_dir.locked():  # released on exit: the next holder gets it at once
        with pytest.raises(RunLocked):
            with RunDir(tmp_path / "x").locked():
                pass
