"""Faults beyond a kill: a full disk during each kind of write, an output folder that cannot be
written, two processes on one folder.

All deterministic: the disk fills through the `disk_full` fault (`VAAL_FAILPOINT=disk_full:<file
name>`: every write of a matching file fails with ENOSPC after half of its bytes, inside
`vaal_core.storage`, the one writer), and a busy folder is held by this test process.
"""

from __future__ import annotations

import csv
import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.fixtures.imagefolder import write_folders
from tests.test_crash_safety import cli, reference, stable
from tests.test_select import SETS, SPEC
from vaal_core import failpoints
from vaal_core.__main__ import main
from vaal_core.errors import FolderBusy, StorageError
from vaal_core.run.runlog import read_records
from vaal_core.storage import FolderLock, append_line, check_writable, write_atomic

REPO = Path(__file__).resolve().parent.parent
WARM_TASK = ["protocol.reset_task_each_cycle=false"]  # a carried state-<c>.pt every cycle


def one_error_line(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr[-2000:]
    return lines[0]


def run(out: Path, extra=(), failpoint: str | None = None, env_extra=None):
    args, env = cli(out, "random", extra, failpoint)
    env.update(env_extra or {})
    return subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True)


def snapshot(folder: Path) -> dict[str, bytes]:
    return (
        {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} if folder.exists() else {}
    )


@pytest.fixture
def disk_full(monkeypatch):
    """Arm the fault in this process (the in-process writers: manifest, storage itself)."""

    def arm(pattern: str) -> None:
        monkeypatch.setenv(failpoints.ENV, f"disk_full:{pattern}")
        failpoints.configure_from_env()

    yield arm
    monkeypatch.delenv(failpoints.ENV, raising=False)
    failpoints.configure_from_env()


# ---------------------------------------------------------------- the writer itself


def test_a_failed_write_keeps_the_previous_file_and_leaves_no_temp(tmp_path, disk_full):
    path = tmp_path / "result.json"
    write_atomic(path, b'{"old": 1}')
    disk_full("result.json")
    with pytest.raises(StorageError) as e:
        write_atomic(path, b'{"new": 2}' * 1000)
    assert e.value.errno == errno.ENOSPC and isinstance(e.value, OSError)
    assert str(e.value).startswith(
        f"cannot write {path} (No space left on device); the disk is full: free space"
    )
    with pytest.raises(StorageError):
        write_atomic(path, lambda f: f.write(b"streamed"))  # a writer function, the same
    assert path.read_bytes() == b'{"old": 1}'
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]

    def broken(f):  # any failure of the writer: the previous file stays too
        f.write(b"half")
        raise ValueError("the serialiser broke")

    with pytest.raises(ValueError):
        write_atomic(tmp_path / "other.bin", broken)
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]


def test_a_failed_append_is_cut_back_to_the_last_whole_line(tmp_path, disk_full):
    log = tmp_path / "cycles.jsonl"
    append_line(log, '{"cycle": 0}')
    disk_full("cycles.jsonl")
    with pytest.raises(StorageError, match="No space left on device"):
        append_line(log, '{"cycle": 1, "padding": "' + "x" * 500 + '"}')
    assert log.read_bytes() == b'{"cycle": 0}\n'  # not half a line


def test_the_sweep_manifest_survives_a_full_disk(tmp_path, disk_full):
    from slurm.manifest import JobEntry, read_manifest, record_jobs

    entry = JobEntry("local", "1", "f", "o", "e", "r", "t")
    record_jobs(tmp_path, "tiny", {"random/seed-0": entry})
    before = (tmp_path / "tiny" / ".sweep" / "jobs.json").read_bytes()
    disk_full("jobs.json")
    with pytest.raises(StorageError):
        record_jobs(tmp_path, "tiny", {"random/seed-1": entry})
    assert (tmp_path / "tiny" / ".sweep" / "jobs.json").read_bytes() == before
    assert list(read_manifest(tmp_path, "tiny")) == ["random/seed-0"]


def test_a_second_holder_is_refused_naming_the_first(tmp_path):
    with FolderLock(tmp_path / "f"):
        with pytest.raises(FolderBusy) as e:
            with FolderLock(tmp_path / "f"):
                pass
    assert f"pid {os.getpid()} on " in str(e.value) and "running `" in str(e.value)
    with FolderLock(tmp_path / "f"):  # released: the next holder gets it at once
        pass


# ---------------------------------------------------------------- a run through the CLI

# (file the disk fills on, records committed after the fault): each kind of write of a run
# directory in turn, chained through one directory; from pool-2.npy on, cycle 1 is redone by
# each rerun, so the fault meets it at a later write every time
CHAIN = [
    ("spec.yaml", 0),
    ("env.json", 0),
    ("pool-0.npy", 0),
    ("pool-2.npy", 1),
    ("state-1.pt", 1),
    ("cycles.jsonl", 1),
]


def test_a_full_disk_at_each_write_of_a_run_then_the_rerun_equals_uninterrupted(tmp_path, mnist):
    ref_records, ref_dir = reference(tmp_path, mnist, "random", WARM_TASK)
    out = tmp_path / "full"
    run_dir = out / "tiny" / "random" / "seed-0"
    for name, committed in CHAIN:
        before = snapshot(run_dir)
        line = one_error_line(run(out, WARM_TASK, f"disk_full:{name}"))
        assert f"cannot write {run_dir / name} (No space left on device)" in line, line
        assert "free space and rerun the same command" in line
        after = snapshot(run_dir)
        assert after.get(name) == before.get(name), f"{name}: the previous file is not intact"
        assert len(read_records(run_dir / "cycles.jsonl")) == committed, name
        assert not list(run_dir.glob(".*.tmp")), "a temp file was left"

    done = run(out, WARM_TASK)
    assert done.returncode == 0, done.stderr[-2000:]
    assert stable(read_records(run_dir / "cycles.jsonl")) == stable(ref_records)
    for c in range(3):
        assert np.array_equal(
            np.load(run_dir / f"pool-{c}.npy"), np.load(ref_dir / f"pool-{c}.npy")
        )
    assert sorted(p.name for p in run_dir.iterdir()) == sorted(p.name for p in ref_dir.iterdir())

    # rewriting an existing file: extending the finished run rewrites spec.yaml first
    before = snapshot(run_dir)
    extend = [*WARM_TASK, "active.cycles=4"]
    one_error_line(run(out, extend, "disk_full:spec.yaml"))
    assert unlocked(snapshot(run_dir)) == unlocked(before), "a file of the run changed"
    done = run(out, extend)
    assert done.returncode == 0, done.stderr[-2000:]
    ref4, _ = reference(tmp_path / "four", mnist, "random", extend)
    assert stable(read_records(run_dir / "cycles.jsonl")) == stable(ref4)


def unlocked(files: dict[str, bytes]) -> dict[str, bytes]:
    """The files of a run directory but its lock, which names its latest holder."""
    return {k: v for k, v in files.items() if k != ".lock"}


# ---------------------------------------------------------------- select through the CLI


@pytest.fixture
def images(tmp_path):
    photos = write_folders(tmp_path / "images", train=8, test=0)
    first = [p for p in photos if p.path.split("_")[-1] in ("00.jpg", "01.png")]
    with open(tmp_path / "labels.csv", "w", newline="") as f:
        csv.writer(f).writerows([("path", "label"), *((p.path, p.label) for p in first)])
    return tmp_path


def select_args(root: Path, out: str) -> list[str]:
    return [
        "select",
        SPEC,
        "--images",
        str(root / "images"),
        "--labels",
        str(root / "labels.csv"),
        "--budget",
        "4",
        "--strategy",
        "random",
        "--out",
        str(root / out),
        "--no-progress",
        *SETS,
    ]


def select_cli(root: Path, out: str = "out", failpoint: str | None = None):
    env = {k: v for k, v in os.environ.items() if k != failpoints.ENV}
    if failpoint:
        env[failpoints.ENV] = failpoint
    args = [sys.executable, "-m", "vaal_core", *select_args(root, out)]
    return subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True)


def selection(folder: Path) -> bytes:
    return next(folder.glob("round-01-*")).joinpath("selection.csv").read_bytes()


def test_a_full_disk_at_each_write_of_a_round_then_the_rerun_equals_uninterrupted(images):
    # the images' cache, the trained model, the list: each fails once, then a clean rerun
    for name in ("manifest.json", "task_model.pt", "selection.csv"):
        line = one_error_line(select_cli(images, failpoint=f"disk_full:{name}"))
        assert f"{name} (No space left on device)" in line, line
        assert not list((images / "out").rglob(".*.tmp")), "a temp file was left"
        assert not list((images / "out").glob("round-*/selection.csv"))
    assert main(select_args(images, "out")) == 0
    assert main(select_args(images, "uninterrupted")) == 0
    assert selection(images / "out") == selection(images / "uninterrupted")


# ---------------------------------------------------------------- an output folder that cannot be written


def unwritable(tmp_path: Path) -> Path:
    """An --out this process cannot write into. A regular user: a folder of mode 0o500. Root
    ignores permission bits, so there: a path under a regular file (no one can create a folder
    inside a file). Either way a real write fails, which is what the check tries."""
    if os.geteuid() == 0:
        blocker = tmp_path / "a-file"
        blocker.write_text("")
        return blocker / "out"
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o500)
    return folder


def test_an_unwritable_out_is_refused_before_any_compute(tmp_path, images):
    out = unwritable(tmp_path)
    with pytest.raises(StorageError):
        check_writable(out)
    # the data root cannot be created either: had the run looked at its data (or computed
    # anything) first, the error would name DATA_ROOT
    (tmp_path / "not-a-folder").write_text("")
    proc = run(out, env_extra={"DATA_ROOT": str(tmp_path / "not-a-folder" / "data")})
    line = one_error_line(proc)
    assert f"the run directory {out}" in line and "choose a writable --out" in line
    assert "DATA_ROOT" not in line

    args = select_args(images, "x")
    args[args.index("--out") + 1] = str(out)
    proc = subprocess.run(
        [sys.executable, "-m", "vaal_core", *args], cwd=REPO, capture_output=True, text=True
    )
    assert f"--out {out}" in one_error_line(proc)  # not the cache's or the probe's error


# ---------------------------------------------------------------- two processes on one round


def test_a_second_select_on_a_round_in_progress_is_refused_naming_the_first(images):
    assert main(select_args(images, "out")) == 0
    round_folder = next((images / "out").glob("round-01-*"))
    listed = selection(images / "out")
    inputs = (round_folder / "inputs.json").read_bytes()
    with FolderLock(round_folder):  # this test process stands in for the first select
        line = one_error_line(select_cli(images))
    assert f"{round_folder} is in use by another process (pid {os.getpid()} on " in line
    assert "running `" in line and "then the same command prints its list" in line
    assert (round_folder / "inputs.json").read_bytes() == inputs  # the refused one wrote nothing
    assert [p.name for p in (images / "out").glob("round-*")] == [round_folder.name]
    proc = select_cli(images)  # the holder is gone: the same command prints the same list
    assert proc.returncode == 0 and "already selected (same inputs)" in proc.stdout
    assert selection(images / "out") == listed
    assert json.loads(inputs)["strategy"] == "random"
