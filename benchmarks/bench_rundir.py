"""Cost of crash safety: the run-directory lock and the (unarmed) failpoints, per run and per cycle.

Compares each with the time of one demo cycle, measured here on the real MNIST demo spec, so the
table says what fraction of a run the safety machinery costs.
"""

from __future__ import annotations

import tempfile
import timeit
from pathlib import Path

from vaal_core import failpoints
from vaal_core.failpoints import FAILPOINTS, failpoint
from vaal_core.run.rundir import RunDir
from vaal_core.train.device import cpu_model_name


def _one_demo_cycle() -> float:
    import time

    from vaal_core.run.loop import ActiveLoop
    from vaal_core.spec import load_spec

    spec = load_spec("experiments/mnist.yaml", ["active.cycles=1"])
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        ActiveLoop(spec, "random", 0, d, progress=False).run()
        return time.perf_counter() - t0


def main() -> None:
    failpoints._armed = None
    n = 1_000_000
    per_call = timeit.timeit(lambda: failpoint("after_pool", 3), number=n) / n
    empty = timeit.timeit(lambda: None, number=n) / n
    with tempfile.TemporaryDirectory() as d:
        rd = RunDir(Path(d) / "run")

        def lock_cycle():
            with rd.locked():
                pass

        lock_cycle()
        reps = 200
        lock_s = timeit.timeit(lock_cycle, number=reps) / reps
    calls_per_cycle = len(FAILPOINTS) + 1  # every point once, plus the check in VAAL's loop
    cycle_s = _one_demo_cycle()
    print(f"CPU: {cpu_model_name()}")
    print("| what | cost | per |")
    print("|---|---|---|")
    print(
        f"| unarmed failpoint call (minus an empty call) | {1e9 * (per_call - empty):.0f} ns | call |"
    )
    print(
        f"| failpoints of one cycle ({calls_per_cycle} calls) | {1e6 * calls_per_cycle * per_call:.2f} us | cycle |"
    )
    print(f"| lock: create, flock, write holder, release | {1e6 * lock_s:.0f} us | run |")
    print(
        f"| one demo cycle (experiments/mnist.yaml, random, 1 cycle, run dir included) | {cycle_s:.1f} s | cycle |"
    )
    print(
        f"Overhead on a demo run of 6 cycles: failpoints {calls_per_cycle * per_call / cycle_s:.1e}, "
        f"lock {lock_s / (6 * cycle_s):.1e} of its time."
    )


if __name__ == "__main__":
    main()
