"""The sweep launcher: real sweeps on a real SLURM (marked `slurm`), and the local executor,
status table and option checks that run everywhere.

SLURM tests need a controller that answers (`slurm/ci/up.sh` starts a one-node cluster; `.ci/run`
does so before the suite). Every sweep runs the tiny MNIST spec of tests/helpers.py; records are
compared, volatile fields aside, with an uninterrupted in-process `ActiveLoop` run of the same
spec. Cancel and requeue tests act when cycles.jsonl shows progress and assert only that the end
state is identical, never that the interruption landed mid-run (that depends on machine speed).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from submitit.core.utils import pickle_load

from slurm.job import RunJob
from slurm.manifest import JobEntry, read_manifest, record_jobs
from slurm.options import OptionsError, load_profile
from slurm.scheduler import slurm_available, wait_for_jobs
from slurm.status import collect_status, format_table, last_error_line
from slurm.sweep import main as sweep
from slurm.sweep import submit
from tests.conftest import DATA_ROOT
from tests.helpers import TINY_OVERRIDES
from vaal_core.run.loop import ActiveLoop
from vaal_core.run.runlog import read_records, reproducible_part
from vaal_core.spec import load_spec

REPO = Path(__file__).resolve().parent.parent
# one pytest-xdist worker submits to the one-node cluster: its module fixtures run once, and the
# cluster's two CPUs are not shared with another worker's sweeps
pytestmark = pytest.mark.xdist_group("slurm")
SPEC = REPO / "experiments" / "mnist.yaml"
# one thread per task: the CI profile runs two 1-CPU tasks at once on a 2-core machine
SHORT = ["active.cycles=2", "vaal.epochs=0.2", "runtime.num_threads=1"]  # the array sweeps
LONG = ["active.cycles=4", "runtime.num_threads=1"]  # interrupted mid-way: cycles left to resume


def _overrides(extra):
    return [*TINY_OVERRIDES, *extra]


def _args(out, extra, *more, data_root=DATA_ROOT):
    sets = [a for o in _overrides(extra) for a in ("--set", o)]
    return [
        str(SPEC),
        "--out",
        str(out),
        "--data-root",
        str(Path(data_root).resolve()),
        *sets,
        *more,
    ]


def _stable(records):
    return [reproducible_part(r) for r in records]


def _records(out, strategy, seed):
    return read_records(Path(out) / "tiny" / strategy / f"seed-{seed}" / "cycles.jsonl")


def _reference(tmp_path, mnist, extra, strategy, seed):
    """An uninterrupted in-process run of the same spec."""
    spec = load_spec(SPEC, _overrides(extra))
    ref = ActiveLoop(spec, strategy, seed, tmp_path / "ref", progress=False, data=mnist).run()
    return _stable(json.loads(json.dumps(ref)))


def _block(out, strategy, seed):
    """A file where the run directory should be: that task raises FileExistsError."""
    path = Path(out) / "tiny" / strategy / f"seed-{seed}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("not a directory\n")


# ---------------------------------------------------------------- everywhere


def test_profiles(tmp_path):
    ci = load_profile("ci")
    assert ci.partition == "debug" and ci.gpus_per_task == 0 and ci.cpus_per_task == 1
    assert ci.replace(partition="gpu", mem_gb=None).partition == "gpu"
    assert ci.replace(mem_gb=None).mem_gb == 2  # None means "not given on the command line"
    with pytest.raises(OptionsError, match="known profiles: .*ci"):
        load_profile("nope")
    bad = tmp_path / "lab.yaml"
    bad.write_text("partiton: gpu\n")
    with pytest.raises(
        OptionsError,
        match=r"unknown cluster option partiton \(did you mean 'partition'\?\); valid: partition",
    ):
        load_profile(str(bad))
    bad.write_text("cpus_per_task: 0\n")
    with pytest.raises(OptionsError, match="'cpus_per_task' must be >= 1"):
        load_profile(str(bad))


def test_bad_input_is_one_error_line_before_anything_is_queued(tmp_path, capsys, monkeypatch):
    assert sweep(_args(tmp_path, SHORT, "--strategies", "random,vaa", "--executor", "local")) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "vaa" in err and "random" in err
    assert not (tmp_path / "tiny").exists()
    monkeypatch.setenv("PATH", str(tmp_path))  # no sbatch here
    assert sweep(_args(tmp_path, SHORT, "--strategies", "random", "--executor", "slurm")) == 2
    assert "needs SLURM's sbatch on PATH; use --executor local" in capsys.readouterr().err


def test_checkpoint_resubmits_the_same_task(tmp_path):
    spec = load_spec(SPEC, _overrides(SHORT))
    task = RunJob(spec, "random", 0, str(tmp_path))
    delayed = task.checkpoint()
    assert delayed.function == task and delayed.function is not task
    assert delayed.args == () and delayed.kwargs == {}


def test_last_error_line():
    tb = "Traceback (most recent call last):\n  File 'x'\nFileExistsError: [Errno 17] exists\n"
    assert last_error_line(tb) == "FileExistsError: [Errno 17] exists"
    log = "submitit INFO start\nslurmstepd: error: *** STEP 4.0 ON vm CANCELLED AT 2026 ***\n"
    assert last_error_line("", log).startswith("slurmstepd: error: *** STEP 4.0")
    assert last_error_line("all fine\n") is None


def test_status_table(tmp_path, mnist):
    spec = load_spec(SPEC, _overrides(SHORT))
    ActiveLoop(spec, "random", 0, tmp_path, progress=False, data=mnist).run()
    log = tmp_path / "9_1_0_log.err"
    log.write_text("Traceback (most recent call last):\nValueError: pool too small\nbye\n")
    entry = JobEntry("local", "9_1", str(tmp_path), "o", str(log), str(tmp_path / "none.pkl"), "t")
    record_jobs(tmp_path, "tiny", {"random/seed-1": entry})
    rows = collect_status(spec, ["random"], [0, 1, 2], tmp_path)
    assert [(r.cycles_done, r.cycles_total, r.state) for r in rows] == [
        (2, 2, "done"),
        (0, 2, "stopped"),
        (0, 2, "not submitted"),
    ]
    assert rows[1].log == str(log) and rows[1].error == "ValueError: pool too small"
    table = format_table(rows)
    assert f"{log}: ValueError: pool too small" in table
    assert table.splitlines()[-1] == "3 runs: 1 done, 1 not submitted, 1 stopped"


def test_local_executor_sweep(tmp_path, mnist, capsys):
    """Local processes: same records as an in-process run; a failing task is reported, not fatal;
    re-running skips what is done."""
    out = tmp_path / "out"
    _block(out, "random", 1)
    args = _args(out, SHORT, "--strategies", "random", "--seeds", "0-1", "--executor", "local")
    assert sweep([*args, "--profile", "laptop"]) == 1  # one run failed
    table = capsys.readouterr().out
    assert "random/seed-0  2/2     done" in table
    failed = next(ln for ln in table.splitlines() if ln.startswith("random/seed-1"))
    assert "failed" in failed and "cannot create the run directory" in failed
    log = read_manifest(out.resolve(), "tiny")["random/seed-1"].stderr
    assert f"{log}: " in failed and Path(log).is_file()
    assert _stable(_records(out, "random", 0)) == _reference(tmp_path, mnist, SHORT, "random", 0)
    assert sweep([*args, "--profile", "laptop"]) == 1
    assert "skip random/seed-0: done" in capsys.readouterr().out


# ---------------------------------------------------------------- on a real SLURM


@pytest.fixture(scope="module")
def cluster():
    why = slurm_available()
    if why:
        pytest.skip(f"no SLURM reachable ({why}); start a one-node cluster with slurm/ci/up.sh")


def _submit(out, extra, *more, data_root=DATA_ROOT) -> list[str]:
    """Submit a sweep to SLURM; the job ids of its tasks."""
    args = _args(out, extra, "--executor", "slurm", "--profile", "ci", *more, data_root=data_root)
    assert sweep(args) == 0
    return [e.job_id for e in read_manifest(Path(out).resolve(), "tiny").values()]


# no deadline of our own: an event that never comes is a hang, and pytest-timeout ends it
HANG = 24 * 3600.0


def _wait_for_lines(path: Path, n: int) -> None:
    while not (path.is_file() and path.read_bytes().count(b"\n") >= n):
        time.sleep(0.1)


def _sacct_states(job_id: str) -> list[str]:
    out = subprocess.run(
        ["sacct", "-n", "-X", "-P", "--duplicates", "-j", job_id, "-o", "State"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [s.split()[0] for s in out.splitlines() if s.strip()]


@pytest.fixture(scope="module")
def array_sweep(cluster, tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep")
    args = _args(out, SHORT, "--strategies", "random,vaal", "--seeds", "0-1")
    assert sweep([*args, "--executor", "slurm", "--profile", "ci", "--wait"]) == 0
    return out


@pytest.mark.slurm
def test_array_matches_local_runs(array_sweep, tmp_path, mnist):
    jobs = read_manifest(array_sweep.resolve(), "tiny")
    assert sorted(jobs) == ["random/seed-0", "random/seed-1", "vaal/seed-0", "vaal/seed-1"]
    assert len({e.job_id.split("_")[0] for e in jobs.values()}) == 1  # one job array
    for strategy in ("random", "vaal"):
        for seed in (0, 1):
            got = _stable(_records(array_sweep, strategy, seed))
            assert got == _reference(tmp_path, mnist, SHORT, strategy, seed), (strategy, seed)


@pytest.mark.slurm
def test_failed_task_is_reported_while_others_finish(array_sweep, capsys):
    _block(array_sweep, "random", 3)
    args = _args(array_sweep, SHORT, "--strategies", "random", "--seeds", "0-3")
    assert sweep([*args, "--executor", "slurm", "--profile", "ci", "--wait"]) == 1
    out = capsys.readouterr().out
    assert "skip random/seed-0: done" in out and "skip random/seed-1: done" in out
    assert "submitted 2 tasks" in out
    assert sweep([*args, "--status"]) == 0
    table = capsys.readouterr().out
    assert "random/seed-2  2/2     done" in table
    failed = next(ln for ln in table.splitlines() if ln.startswith("random/seed-3"))
    log = read_manifest(array_sweep.resolve(), "tiny")["random/seed-3"].stderr
    assert (
        " failed " in failed
        and f"{log}: " in failed
        and "cannot create the run directory" in failed
    )
    assert Path(log).is_file()


@pytest.mark.slurm
def test_scancel_mid_run_then_resubmit_resumes(cluster, tmp_path, mnist, capsys):
    out = tmp_path / "out"
    (job,) = _submit(out, LONG, "--strategies", "random", "--seeds", "0-0")
    records = out / "tiny" / "random" / "seed-0" / "cycles.jsonl"
    _wait_for_lines(records, 1)
    # SIGKILL to the task's step stops it at once (a plain scancel lets it run on for KillWait,
    # as submitit ignores SIGTERM); then cancel the job itself
    raw = subprocess.run(["squeue", "-h", "-j", job, "-o", "%A"], capture_output=True, text=True)
    subprocess.run(["scancel", "--signal=KILL", f"{raw.stdout.strip() or job}.0"], check=False)
    subprocess.run(["scancel", job], check=False)
    wait_for_jobs([job], timeout_s=HANG)
    stopped_at = len(_records(out, "random", 0))
    capsys.readouterr()
    sweep(_args(out, LONG, "--strategies", "random", "--seeds", "0-0", "--status"))
    state = capsys.readouterr().out.splitlines()[1]
    assert (" done " in state) == (stopped_at == 4), state
    (job2,) = _submit(out, LONG, "--strategies", "random", "--seeds", "0-0", "--wait")
    assert job2 != job or stopped_at == 4
    assert _stable(_records(out, "random", 0)) == _reference(tmp_path, mnist, LONG, "random", 0)
    print(f"scancel landed after {stopped_at}/4 cycles")


@pytest.mark.slurm
def test_requeue_resumes_from_the_run_directory(cluster, tmp_path, mnist):
    out = tmp_path / "out"
    (job,) = _submit(out, LONG, "--strategies", "random", "--seeds", "1-1")
    _wait_for_lines(out / "tiny" / "random" / "seed-1" / "cycles.jsonl", 1)
    # SLURM requeues a running job (and a finished one) alike: the requeue itself is certain
    subprocess.run(["scontrol", "requeue", job], check=True)
    wait_for_jobs([job], timeout_s=HANG)
    states = _sacct_states(job)
    assert states[0] == "REQUEUED" and states[-1] == "COMPLETED", states
    records = _records(out, "random", 1)
    assert len({r["run_id"] for r in records}) == 1  # one run, resumed, not restarted
    assert _stable(records) == _reference(tmp_path, mnist, LONG, "random", 1)


def test_two_process_ddp_run_on_cpu(tmp_path, mnist):
    """tasks_per_node=2 on the local executor: gloo DDP across two processes; rank 0 alone writes
    the usual records, trained to well above chance on real digits."""
    # 60 steps, as the SLURM DDP test below: 30 reached 0.496-0.51 at 80 labels (each rank sees
    # half a batch), at the edge of the 0.5 asked of a trained model
    extra = ["active.cycles=2", "task.iterations=60", "runtime.num_threads=1"]
    out = tmp_path / "out"
    args = _args(out, extra, "--strategies", "random", "--seeds", "0-0", "--executor", "local")
    assert sweep([*args, "--profile", "laptop", "--tasks-per-node", "2"]) == 0
    records = _records(out, "random", 0)
    single = ActiveLoop(
        load_spec(SPEC, _overrides(extra)),
        "random",
        0,
        tmp_path / "single",
        progress=False,
        data=mnist,
    ).run()
    assert [sorted(r) for r in records] == [sorted(r) for r in single]  # the same record format
    assert [r["cycle"] for r in records] == [0, 1]
    assert records[0]["labeled_sha1"] == single[0]["labeled_sha1"]  # same initial pool
    assert records[-1]["value"] > 0.5, records[-1]["value"]  # chance is 0.1
    entry = read_manifest(out.resolve(), "tiny")["random/seed-0"]
    rank1 = pickle_load(Path(entry.folder) / f"{entry.job_id}_1_result.pkl")
    assert rank1 == (
        "success",
        {"run_dir": str(out.resolve() / "tiny/random/seed-0"), "rank": 1},
    )


def _raw_id(job: str) -> str:
    """SLURM's own job id of an array task (`12_3` -> `15`), for step-level signals."""
    res = subprocess.run(["squeue", "-h", "-j", job, "-o", "%A"], capture_output=True, text=True)
    return res.stdout.strip() or job


def _openers(path: Path) -> set[int]:
    """Pids of the processes (other than this one) that have `path` open."""
    pids = set()
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        try:
            if any(os.readlink(fd) == str(path) for fd in fd_dir.iterdir()):
                pids.add(int(fd_dir.parent.name))
        except OSError:  # a process that ended meanwhile
            continue
    return pids - {os.getpid()}


@pytest.mark.slurm
def test_preemption_signal_checkpoints_requeues_and_resumes(cluster, tmp_path, mnist, capsys):
    """SLURM's USR2 (its warning before a time limit, or on pre-emption) makes submitit call the
    task's checkpoint() and requeue it; the requeued task resumes after the last recorded cycle.

    Held at a known point without timing: the run directory is that of a run killed after cycle
    0, except that cycles.jsonl is a FIFO, so the task blocks reading its records until the
    test, having seen the requeue, writes them.
    """
    extra = ["active.cycles=2", "runtime.num_threads=1"]
    spec = load_spec(SPEC, _overrides(extra))
    reference = _reference(tmp_path, mnist, extra, "random", 2)
    ref_dir = tmp_path / "ref" / "tiny" / "random" / "seed-2"
    run_dir = tmp_path / "out" / "tiny" / "random" / "seed-2"
    run_dir.mkdir(parents=True)
    for name in ("spec.yaml", "env.json", "pool-0.npy", "pool-1.npy"):
        shutil.copy(ref_dir / name, run_dir / name)
    first = (ref_dir / "cycles.jsonl").read_bytes().splitlines(keepends=True)[0]
    fifo = run_dir / "cycles.jsonl"
    os.mkfifo(fifo)
    hold = os.open(fifo, os.O_RDWR)  # a writer stays: readers block on read, not on open
    try:
        task = RunJob(spec, "random", 2, str(tmp_path / "out"), str(DATA_ROOT.resolve()))
        (job,) = submit("slurm", load_profile("ci"), [task], tmp_path / "out", spec)
        job_id = str(job.job_id)
        while not _openers(fifo):  # the task is reading its records: signal handlers are set
            time.sleep(0.1)
        # re-submitting now leaves the run alone: its job is live
        capsys.readouterr()
        args = _args(tmp_path / "out", extra, "--strategies", "random", "--seeds", "2-2")
        assert sweep([*args, "--executor", "slurm", "--profile", "ci"]) == 0
        assert f"skip random/seed-2: already queued as job {job_id}" in capsys.readouterr().out
        subprocess.run(["scancel", "--signal=USR2", f"{_raw_id(job_id)}.0"], check=True)
        while "REQUEUED" not in _sacct_states(job_id):  # it cannot finish: it has no records
            time.sleep(0.5)
        # now the records of cycle 0, for whichever attempt reads them
        (run_dir / ".cycles.tmp").write_bytes(first)
        os.replace(run_dir / ".cycles.tmp", fifo)
        os.write(hold, first)
    finally:
        os.close(hold)
    wait_for_jobs([job_id], timeout_s=HANG)
    assert _sacct_states(job_id) == ["REQUEUED", "COMPLETED"]
    log = Path(job.paths.stdout).read_text()  # submitit appends: both attempts are in it
    assert f"checkpoint: {run_dir} requeued" in log
    assert "cycle 2/2" in log and "cycle 1/2" not in log  # resumed after cycle 0
    assert _stable(_records(tmp_path / "out", "random", 2)) == reference


@pytest.mark.slurm
def test_two_process_ddp_run_on_slurm(cluster, tmp_path):
    """The same DDP path as one SLURM task of two processes (srun), ranks from SLURM."""
    # 60 steps: the demo's Adam 1e-3 + cosine recipe reached only 0.49-0.5 at 80 labels in 30
    # (each rank sees half a batch), too close to the 0.5 this test asks of a trained model
    extra = ["active.cycles=2", "task.iterations=60", "runtime.num_threads=1"]
    out = tmp_path / "out"
    args = _args(out, extra, "--strategies", "random", "--seeds", "0-0", "--tasks-per-node", "2")
    assert sweep([*args, "--executor", "slurm", "--profile", "ci", "--wait"]) == 0
    records = _records(out, "random", 0)
    assert [r["cycle"] for r in records] == [0, 1] and records[-1]["value"] > 0.5
    entry = read_manifest(out.resolve(), "tiny")["random/seed-0"]
    script = (Path(entry.folder) / f"{entry.job_id.split('_')[0]}_submission.sh").read_text()
    assert "--ntasks-per-node=2" in script
    rank1 = pickle_load(Path(entry.folder) / f"{entry.job_id}_1_result.pkl")
    assert rank1 == ("success", {"run_dir": str(out.resolve() / "tiny/random/seed-0"), "rank": 1})


def test_ddp_shards_are_equal_parts():
    from slurm.ddp import shard

    assert [shard(64, r, 2) for r in (0, 1)] == [slice(0, 32), slice(32, 64)]
    assert [shard(7, r, 2) for r in (0, 1)] == [slice(0, 3), slice(3, 6)]  # one sample left out
    assert [shard(3, r, 2) for r in (0, 1)] == [slice(0, 3), slice(0, 3)]  # too small: whole
