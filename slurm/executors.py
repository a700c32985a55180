"""Executor name -> a configured submitit executor. The same tasks run on any of them.

- slurm: one SLURM job array (`sbatch --array`), tasks requeued on pre-emption/time limit;
- local: submitit's local processes on this machine, `array_parallelism` at a time;
- debug: in this very process, one after another (a debugger can step into a task).
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import submitit

from .options import ClusterOptions, OptionsError

REPO = Path(__file__).resolve().parent.parent


def default_executor() -> str:
    return "slurm" if shutil.which("sbatch") else "local"


def _pythonpath_setup() -> list[str]:
    # tasks import this checkout's packages, wherever the job's working directory is
    return [f"export PYTHONPATH={REPO}${{PYTHONPATH:+:$PYTHONPATH}}"]


def _slurm(folder: Path, opts: ClusterOptions) -> submitit.Executor:
    ex = submitit.SlurmExecutor(folder, max_num_timeout=opts.max_requeues, python=sys.executable)
    extra = {k: v for k in ("account", "qos") if (v := getattr(opts, k))}
    params = {
        "job_name": opts.job_name,
        "partition": opts.partition,
        "time": opts.timeout_min,
        "cpus_per_task": opts.cpus_per_task,
        "ntasks_per_node": opts.tasks_per_node,
        "gpus_per_task": opts.gpus_per_task or None,
        "mem": f"{int(opts.mem_gb * 1024)}MB" if opts.mem_gb else None,
        "constraint": opts.constraint,
        "array_parallelism": opts.array_parallelism,
        "signal_delay_s": opts.signal_delay_s,
        "setup": _pythonpath_setup(),
        "additional_parameters": extra,
    }
    ex.update_parameters(**{k: v for k, v in params.items() if v is not None})
    return ex


def _local(folder: Path, opts: ClusterOptions) -> submitit.Executor:
    ex = submitit.LocalExecutor(folder, max_num_timeout=opts.max_requeues)
    ex.update_parameters(
        timeout_min=opts.timeout_min,
        tasks_per_node=opts.tasks_per_node,
        signal_delay_s=opts.signal_delay_s,
        setup=_pythonpath_setup(),
    )
    return ex


def _debug(folder: Path, opts: ClusterOptions) -> submitit.Executor:
    return submitit.DebugExecutor(folder)


EXECUTORS: dict[str, Callable[[Path, ClusterOptions], submitit.Executor]] = {
    "slurm": _slurm,
    "local": _local,
    "debug": _debug,
}


def make_executor(name: str, folder: Path, opts: ClusterOptions) -> submitit.Executor:
    if name not in EXECUTORS:
        raise OptionsError(f"--executor '{name}' is unknown; choose one of {', '.join(EXECUTORS)}")
    if name == "slurm" and shutil.which("sbatch") is None:
        raise OptionsError(
            "--executor slurm needs SLURM's sbatch on PATH; use --executor local on this machine "
            "(or slurm/ci/up.sh to start a one-node test cluster)"
        )
    return EXECUTORS[name](folder, opts)
