"""Launchers by name (`--executor`): a configured submitit executor and how the sweep waits for
it. The same tasks run on any of them; a plug-in adds one with `register_launcher`.

- slurm: one SLURM job array (`sbatch --array`), tasks requeued on pre-emption/time limit;
- local: submitit's local processes on this machine, `array_parallelism` at a time;
- debug: in this very process, one after another (a debugger can step into a task).
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import submitit

from vaal_core.registry import Registry

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


@dataclass(frozen=True)
class Launcher:
    """Where a sweep's tasks run. `build(folder, options)` gives the submitit executor;
    `queued`: tasks go to a scheduler as one array and the sweep returns before they end (their
    state is then asked of the scheduler); otherwise the sweep runs them and waits, `parallel`
    ones `array_parallelism` at a time, the others one by one."""

    build: Callable[[Path, ClusterOptions], submitit.Executor]
    queued: bool = False
    parallel: bool = False
    check: Callable[[], None] | None = None  # raises OptionsError when unusable on this machine


LAUNCHERS: Registry[Launcher] = Registry("--executor", OptionsError)


def register_launcher(name: str, launcher: Launcher) -> Launcher:
    return LAUNCHERS.add(name, launcher)


def _need_sbatch() -> None:
    if shutil.which("sbatch") is None:
        raise OptionsError(
            "--executor slurm needs SLURM's sbatch on PATH; use --executor local on this machine "
            "(or slurm/ci/up.sh to start a one-node test cluster)"
        )


register_launcher("slurm", Launcher(_slurm, queued=True, check=_need_sbatch))
register_launcher("local", Launcher(_local, parallel=True))
register_launcher("debug", Launcher(_debug))


def get_launcher(name: str) -> Launcher:
    launcher = LAUNCHERS.get(name)
    if launcher.check is not None:
        launcher.check()
    return launcher


def is_queued(name: str) -> bool:
    """Whether jobs recorded under launcher `name` are tracked by the scheduler (SLURM)."""
    return name in LAUNCHERS and LAUNCHERS[name].queued
