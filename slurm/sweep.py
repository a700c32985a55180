"""`python -m slurm.sweep SPEC --strategies a,b --seeds 0-4`: every (strategy, seed) of a spec as
one SLURM job array (or local processes), each task one resumable `ActiveLoop` run.

The sweep decides where runs happen, never what they compute: tasks write the very run
directories a local `python -m vaal_core run` writes. Re-submitting skips finished runs, leaves
queued ones alone and resumes the rest. Three modes, one command line:
  (default)  submit every run not finished or queued (SLURM, or local processes)
  --status   print the table of runs (cycles done, state, job, last error) and exit
  --plan     print what the sweep will cost (runs, FLOPs, hours, disk) and exit
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import traceback
from datetime import datetime, timezone
from pathlib import Path

import yaml
from submitit.core.utils import cloudpickle_dump

from vaal_core.cli import (
    ArgumentParser,
    add_spec_arguments,
    add_version,
    non_negative_int,
    positive_float,
    positive_int,
    seed_list,
)
from vaal_core.errors import ExpectedError, RunDirConflict
from vaal_core.run.loop import preflight, run_dir_for
from vaal_core.run.rundir import another_spec, holds_spec
from vaal_core.spec import Spec, load_spec
from vaal_core.words import count

from .job import RunJob
from .launchers import default_executor, get_launcher, is_queued
from .manifest import JobEntry, read_manifest, record_jobs, run_key, sweep_dir
from .options import ClusterOptions, load_profile
from .plan import plan_text
from .scheduler import LIVE, SchedulerError, job_states, wait_for_jobs
from .status import collect_status, cycles_done, format_table


def _parser() -> argparse.ArgumentParser:
    p = ArgumentParser(
        prog="python -m slurm.sweep",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_version(p)
    add_spec_arguments(
        p
    )  # spec, --out, --data-root, --set, --protocol: as `python -m vaal_core run`
    p.add_argument("--strategies", help="comma-separated strategy names (default: the spec's list)")
    p.add_argument(
        "--seeds", type=seed_list, help="a range or list, e.g. 0-4 or 0,2,7 (default: the spec's)"
    )
    p.add_argument(
        "--executor",
        default=None,
        help="slurm (default when sbatch is on PATH), local, debug (in-process), or a "
        "launcher a plug-in registers ($VAAL_PLUGINS)",
    )
    p.add_argument(
        "--profile",
        default="default",
        help="cluster profile: slurm/profiles/<name>.yaml or a YAML path (default: default)",
    )
    # cluster options: each overrides the profile's value (slurm/options.py ClusterOptions)
    p.add_argument(
        "--partition", help="SLURM partition (default: the profile's, else the cluster's)"
    )
    p.add_argument("--account", help="SLURM account to charge (default: the profile's)")
    p.add_argument("--qos", help="SLURM quality of service (default: the profile's)")
    p.add_argument(
        "--gpus-per-task", type=non_negative_int, help="GPUs per run (default: the profile's)"
    )
    p.add_argument(
        "--cpus-per-task", type=positive_int, help="CPU cores per run (default: the profile's)"
    )
    p.add_argument(
        "--mem-gb",
        type=positive_float,
        help="memory per run in GB (default: the profile's, else the partition's)",
    )
    p.add_argument(
        "--timeout-min",
        type=positive_int,
        help="time limit per task in minutes; a run that hits it checkpoints and is requeued "
        "(default: the profile's)",
    )
    p.add_argument(
        "--array-parallelism",
        type=positive_int,
        help="tasks running at once (SLURM array throttle; local: processes at once; default: "
        "the profile's)",
    )
    p.add_argument(
        "--tasks-per-node",
        type=positive_int,
        help="processes per run, one per GPU (DDP; gloo on CPU)",
    )
    p.add_argument(
        "--wait",
        action="store_true",
        help="slurm: block until every task ended, then print the status (local/debug always wait)",
    )
    p.add_argument(
        "--wait-timeout-s",
        type=positive_float,
        default=7 * 24 * 3600.0,
        help="--wait: give up waiting after this many seconds (default: 7 days)",
    )
    p.add_argument("--status", action="store_true", help="print the table of runs and exit")
    p.add_argument(
        "--plan",
        action="store_true",
        help="print what the sweep will cost (runs, images, FLOPs by part, hours, disk) and "
        "exit; nothing is submitted or written (slurm/plan.py, docs/planning.md)",
    )
    p.add_argument(
        "--gpu",
        default="h100",
        help="--plan: the accelerator to price on (h100, h200, a100, l40s, a10, v100), or cpu "
        "for this machine's measured rate (default: h100)",
    )
    p.add_argument(
        "--peak-fraction",
        type=positive_float,
        default=0.4,
        help="--plan: the fraction of the accelerator's datasheet peak a run sustains (default 0.4)",
    )
    return p


def _options(args: argparse.Namespace) -> ClusterOptions:
    opts = load_profile(args.profile)
    return opts.replace(
        partition=args.partition,
        account=args.account,
        qos=args.qos,
        gpus_per_task=args.gpus_per_task,
        cpus_per_task=args.cpus_per_task,
        mem_gb=args.mem_gb,
        timeout_min=args.timeout_min,
        array_parallelism=args.array_parallelism,
        tasks_per_node=args.tasks_per_node,
    )


def _check_run_dir(spec: Spec, run_dir: Path) -> None:
    """Refuse, before anything is queued, a run directory that holds another spec."""
    path = run_dir / "spec.yaml"
    if path.is_file():
        stored = yaml.safe_load(path.read_text()) or {}
        if not isinstance(stored, dict):
            raise RunDirConflict(
                f"{path} is not a spec file; choose another --out, or delete {run_dir} to start over"
            )
        if not holds_spec(stored, spec):
            raise another_spec(run_dir, stored, spec)  # what differs, and the two ways out


def plan(spec: Spec, strategies: list[str], seeds: list[int], out: Path) -> tuple[list, list]:
    """(to submit, skipped with reason): finished runs and runs with a live job are skipped."""
    manifest = read_manifest(out, spec.experiment)
    previous = {k: e.job_id for k, e in manifest.items() if is_queued(e.executor)}
    try:
        live = (
            {j for j, s in job_states(previous.values()).items() if s in LIVE}
            if previous
            else set()
        )
    except SchedulerError:
        live = set()
    todo, skipped = [], []
    for strategy in strategies:
        for seed in seeds:
            run_dir = run_dir_for(out, spec, strategy, seed)
            _check_run_dir(spec, run_dir)
            key = run_key(strategy, seed)
            if cycles_done(run_dir) >= spec.active.cycles:
                skipped.append((key, "done"))
            elif previous.get(key) in live:
                skipped.append((key, f"already queued as job {previous[key]}"))
            else:
                todo.append((strategy, seed))
    return todo, skipped


def _tidy(folder: Path) -> None:
    """submitit creates an empty directory named after the pattern itself (`logs/%j`)."""
    if folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()


def submit(executor_name: str, opts: ClusterOptions, tasks: list[RunJob], out: Path, spec: Spec):
    """Submit every task (one array on SLURM); record the jobs; return them in task order."""
    folder = sweep_dir(out, spec.experiment) / "logs" / "%j"
    launcher = get_launcher(executor_name)
    executor = launcher.build(folder, opts)
    if launcher.queued:  # one job array
        with executor.batch():
            jobs = [executor.submit(t) for t in tasks]
    else:
        jobs = [executor.submit(t) for t in tasks]
    _tidy(folder)
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    record_jobs(
        out,
        spec.experiment,
        {
            run_key(t.strategy, t.seed): JobEntry(
                executor_name,
                str(j.job_id),
                str(j.paths.folder),
                str(j.paths.stdout),
                str(j.paths.stderr),
                str(j.paths.result_pickle),
                now,
            )
            for t, j in zip(tasks, jobs, strict=True)
        },
    )
    return jobs


def _wait_in_process(jobs) -> None:
    """local/debug: wait for each job; a failed task is recorded, never raised."""
    for job in jobs:
        try:
            job.result()
        except Exception:  # the task's own error: keep it for --status, go on with the others
            if not job.paths.result_pickle.exists():  # debug jobs leave no result pickle
                job.paths.result_pickle.parent.mkdir(parents=True, exist_ok=True)
                cloudpickle_dump(("error", traceback.format_exc()), job.paths.result_pickle)


def main(argv: list[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)  # an argument error: UsageError, one line below
        spec = load_spec(args.spec, args.set, protocol=args.protocol)
        strategies = args.strategies.split(",") if args.strategies else list(spec.strategies)
        seeds = args.seeds or list(spec.seeds)
        for strategy in strategies:  # every name checked before anything is queued
            preflight(spec, strategy)
        if args.plan:  # before --out is even resolved: planning writes nothing
            print(plan_text(spec, strategies, seeds, args.gpu, args.peak_fraction))
            return 0
        out = Path(args.out).resolve()
        if args.status:
            print(format_table(collect_status(spec, strategies, seeds, out)))
            return 0
        opts = _options(args)
        executor_name = args.executor or default_executor()
        launcher = get_launcher(executor_name)  # an unknown or unusable one: before any queueing
        data_root = args.data_root or os.environ.get("DATA_ROOT") or "data"
        data_root = str(Path(data_root).resolve())
        todo, skipped = plan(spec, strategies, seeds, out)
        for key, why in skipped:
            print(f"skip {key}: {why}")
        if todo:
            tasks = [RunJob(spec, s, k, str(out), data_root) for s, k in todo]
            if launcher.queued:
                jobs = submit(executor_name, opts, tasks, out, spec)
                array = jobs[0].job_id.split("_")[0]
                print(
                    f"submitted {count(len(jobs), 'task')} as SLURM job array {array}: "
                    f"{', '.join(run_key(s, k) for s, k in todo)}"
                )
                if args.wait:
                    wait_for_jobs([j.job_id for j in jobs], args.wait_timeout_s)
            else:
                step = opts.array_parallelism if launcher.parallel else 1
                for i in range(0, len(tasks), step):  # at most array_parallelism at once
                    _wait_in_process(submit(executor_name, opts, tasks[i : i + step], out, spec))
                _tidy(sweep_dir(out, spec.experiment) / "logs" / "%j")
        if not launcher.queued or args.wait or not todo:
            rows = collect_status(spec, strategies, seeds, out)
            print(format_table(rows))
            return 1 if any(r.state == "failed" for r in rows) else 0
        given = argv if argv is not None else sys.argv[1:]
        print(f"follow with: python -m slurm.sweep {shlex.join(given)} --status")
        return 0
    except ExpectedError as e:  # spec, data, run directory, cluster options, scheduler
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
