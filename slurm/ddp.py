"""Where a distributed run's processes are: their ranks and rendezvous, read from the SLURM job.

How a run trains across processes is the engine's (`vaal_core.run.distributed`); this module only
turns submitit's view of the job into a `DistEnv`.
"""

from __future__ import annotations

import os
import random

import submitit

from vaal_core.run.distributed import DistEnv, run_distributed, shard

__all__ = ["DistEnv", "dist_env_from_submitit", "run_distributed", "shard"]


def dist_env_from_submitit() -> DistEnv:
    """This task's rank, world size and rendezvous, from the SLURM (or local) job."""
    env = submitit.JobEnvironment()
    # single node: loopback, so gloo needs no resolvable host name
    addr = env.hostnames[0] if env.num_nodes > 1 else "127.0.0.1"
    port = int(os.environ.get("MASTER_PORT") or random.Random(env.job_id).randint(20000, 60000))
    return DistEnv(env.global_rank, env.num_tasks, env.local_rank, addr, port)
