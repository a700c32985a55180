"""Named points where a test can make the process die on the spot, to prove crash safety.

`VAAL_FAILPOINT=<name>:<cycle>` arms one point: when the run reaches it in that cycle, the process
sends itself SIGKILL (no cleanup, no atexit, no flush: exactly what a power cut or an OOM kill
does). Unset, a failpoint is one comparison against None. The names below are every window
between two durable writes of a run directory, in the order a cycle passes them.

`VAAL_FAILPOINT=disk_full:<file name>` arms a fault instead of a kill: every write through
`vaal_core.storage` of a file whose name matches (a glob, e.g. `pool-*.npy`) fails with ENOSPC
after half of its bytes, as a disk that fills mid-write does.
"""

from __future__ import annotations

import os
import signal
from fnmatch import fnmatch
from pathlib import Path

from .errors import FailpointError

ENV = "VAAL_FAILPOINT"

FAILPOINTS: dict[str, str] = {
    "after_spec": "spec.yaml written, env.json not yet (use cycle 0)",
    "after_env": "env.json written, pool-0.npy not yet (use cycle 0)",
    "after_train": "task model trained and evaluated, nothing of the cycle written",
    "strategy_training": "inside the strategy's own training (VAAL: after its first iteration)",
    "after_query": "selection made, pool-<c+1>.npy not yet written",
    "after_pool": "pool-<c+1>.npy written, carried state not yet",
    "after_state": "carried state state-<c>.pt written (if any), record line not yet",
    "mid_record": "half of the record line written and fsynced",
    "after_record": "record line committed, the previous cycle's state not yet dropped",
    "cache_after_chunk": "dataset cache build: chunk <n>'s pixels and marker written (the number "
    "is the chunk, not a cycle)",
}

# faults that raise instead of killing; their argument is a file-name glob, not a cycle
FAULTS: dict[str, str] = {
    "disk_full": "writes of files whose name matches fail with ENOSPC (No space left on device)",
}

_armed: tuple[str, int | str] | None = None


def parse(value: str | None) -> tuple[str, int | str] | None:
    """'name:cycle' -> (name, cycle); 'disk_full:glob' -> ('disk_full', glob); None or '' ->
    None; anything else is a FailpointError."""
    if not value:
        return None
    name, sep, cycle = value.partition(":")
    if name in FAULTS:
        if not cycle:
            raise FailpointError(f"{ENV}={value!r} must look like {name}:<file name>")
        return name, cycle
    if name not in FAILPOINTS:
        raise FailpointError(
            f"{ENV}={value!r} names no failpoint; valid names: {', '.join([*FAILPOINTS, *FAULTS])}"
        )
    if not sep or not cycle.isdigit():
        raise FailpointError(f"{ENV}={value!r} must look like <name>:<cycle>, e.g. after_pool:1")
    return name, int(cycle)


def configure_from_env() -> None:
    """(Re)read the environment; called by ActiveLoop before any work, so a typo fails early."""
    global _armed
    _armed = parse(os.environ.get(ENV))


def armed(name: str, cycle: int) -> bool:
    return _armed is not None and _armed == (name, cycle)


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def failpoint(name: str, cycle: int) -> None:
    """Die here if this point is armed for this cycle."""
    if _armed is not None and _armed == (name, cycle):
        die()


def disk_full(path: Path) -> bool:
    """Whether a write of `path` must fail as if the disk were full (the `disk_full` fault)."""
    return _armed is not None and _armed[0] == "disk_full" and fnmatch(Path(path).name, _armed[1])
