"""One job of a sweep (one SLURM array task, or one local process): a single (strategy, seed) run
through `ActiveLoop`, checkpointable. ("Task" in this package means a SLURM task only.)

Nothing is kept in memory between attempts: the run directory *is* the checkpoint (the loop
resumes after its last committed cycle with identical records), so `checkpoint()` resubmits the
task unchanged. The run lock keeps a requeued task and a predecessor that SLURM has not finished
killing from writing at once: the new attempt waits for the lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import submitit

from vaal_core.errors import RunLocked
from vaal_core.run.loop import ActiveLoop, run_dir_for
from vaal_core.spec import Spec

__all__ = ["RunLocked", "RunJob"]


def _job_environment() -> submitit.JobEnvironment | None:
    """The submitit job this process runs in, if any (tests call tasks directly)."""
    try:
        return submitit.JobEnvironment()
    except RuntimeError:
        return None


@dataclass
class RunJob(submitit.helpers.Checkpointable):
    """`ActiveLoop(spec, strategy, seed, out).run()` as a callable submitit can requeue."""

    spec: Spec
    strategy: str
    seed: int
    out: str
    data_root: str | None = None

    @property
    def run_dir(self) -> Path:
        return run_dir_for(Path(self.out), self.spec, self.strategy, self.seed)

    def __call__(self) -> dict[str, Any]:
        # a requeued attempt waits for a lingering predecessor to release the run lock
        kwargs: dict[str, Any] = {"progress": False, "wait": True}
        env = _job_environment()
        if env is not None and env.num_tasks > 1:  # tasks_per_node > 1: DDP across the tasks
            from .ddp import dist_env_from_submitit, run_distributed

            records = run_distributed(
                self.spec,
                self.strategy,
                self.seed,
                self.out,
                self.data_root,
                dist_env_from_submitit(),
                **kwargs,
            )
            if records is None:  # ranks > 0 only trained; rank 0 reports the run
                return {"run_dir": str(self.run_dir), "rank": env.global_rank}
        else:
            loop = ActiveLoop(
                self.spec, self.strategy, self.seed, self.out, self.data_root, **kwargs
            )
            records = loop.run()
        return {
            "run_dir": str(self.run_dir),
            "cycles": len(records),
            "value": records[-1]["value"] if records else None,
        }

    def checkpoint(self, *args: Any, **kwargs: Any) -> submitit.helpers.DelayedSubmission:
        """Called by submitit on SLURM's pre-emption/time-limit signal; the state is on disk."""
        print(f"checkpoint: {self.run_dir} requeued; resumes after its last recorded cycle")
        return submitit.helpers.DelayedSubmission(RunJob(**self.__dict__))
