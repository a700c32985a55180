"""`demo --jobs N`: (strategy, seed) runs in N worker processes.

Small CPU models scale across processes far better than across threads (a 2-thread process
thrashes as soon as anything else runs), so on a small machine the demo runs one single-threaded
run per core. Workers are spawned (nothing shared with the parent) and must import this module
by name, which is why it is not in `__main__`.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor


def run_one(spec, strategy: str, seed: int, out, data_root, threads: int, wait: bool) -> None:
    """One run in a worker; `runtime.num_threads`, if the spec sets it, still wins."""
    import torch

    from .loop import ActiveLoop

    torch.set_num_threads(threads)
    ActiveLoop(spec, strategy, seed, out, data_root, progress=False, wait=wait).run()


def run_parallel(spec, jobs: list[tuple[str, int]], workers: int, out, data_root, wait: bool):
    """Every job over `workers` processes with cores // workers threads each. The first error
    cancels the runs not yet started and is raised here; runs in flight finish, and every run
    resumes on the next start."""
    threads = max(1, (os.cpu_count() or 1) // workers)
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
        futures = [pool.submit(run_one, spec, s, k, out, data_root, threads, wait) for s, k in jobs]
        try:
            for f in futures:
                f.result()
        except BaseException:
            for f in futures:
                f.cancel()
            raise
