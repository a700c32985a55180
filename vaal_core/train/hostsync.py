"""Reading device values on the host only at chosen points, and counting the points that do.

Every `.item()`, `float(t)`, `bool(t)` or `.cpu()` of a CUDA tensor waits for the device's queue
to drain: a training loop that reads its loss every step runs the GPU at the host's pace. Steps
here return device tensors; a `LossMeter` sums them on the device and the host reads the sums
once every `runtime.log_every` steps, inside a profiler range named `READ_RANGE`, so a profile
shows whether any synchronising op happened anywhere else (`host_syncs`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import torch

READ_RANGE = "vaal_core.read_losses"
# ops that copy a device value to the host (on CUDA each one drains the stream); `aten::nonzero`
# and boolean-mask indexing must size their output from device data, so they synchronise too.
SYNC_OPS = frozenset(
    {"aten::item", "aten::_local_scalar_dense", "aten::is_nonzero", "aten::nonzero"}
)
# the CUDA runtime calls by which the host waits for the device (a device-to-host copy of a
# pageable tensor, `.cpu()`, `torch.cuda.synchronize()`); absent from a CPU-only profile
_WAITS = ("cudaStreamSynchronize", "cudaDeviceSynchronize", "cudaEventSynchronize")


class LossMeter:
    """Running sums of named losses on the device; `read()` is the only host synchronisation."""

    def __init__(self, device: torch.device):
        self.device = device
        self._sums: dict[str, torch.Tensor] = {}
        self._counts: dict[str, int] = {}

    def add(self, **losses: torch.Tensor) -> None:
        for name, value in losses.items():
            value = value.detach().float()
            if name in self._sums:
                self._sums[name] += value
                self._counts[name] += 1
            else:
                self._sums[name] = value.clone()
                self._counts[name] = 1

    def read(self) -> dict[str, float]:
        """Means since the last read, as Python floats: one device-to-host copy for all of them."""
        if not self._sums:  # nothing since the last read: no copy, no synchronisation
            return {}
        with torch.profiler.record_function(READ_RANGE):
            names = list(self._sums)
            values = torch.stack([self._sums[n] for n in names]).cpu().tolist() if names else []
        means = {n: v / self._counts[n] for n, v in zip(names, values, strict=True)}
        self._sums.clear()
        self._counts.clear()
        return means


def read_counter(value: torch.Tensor) -> int:
    """One device integer read on the host, at a chosen point (inside `READ_RANGE`)."""
    with torch.profiler.record_function(READ_RANGE):
        return int(value)


@dataclass(frozen=True)
class SyncCount:
    outside: int  # synchronising ops outside the reading ranges: 0 on a sync-free hot path
    inside: int  # synchronising ops inside them
    reads: int  # how many reading ranges the profile holds
    names: tuple[str, ...]  # the ops counted in `outside`, for the error message
    events: tuple = field(default=(), repr=False, compare=False)  # the profiler events themselves


def _is_sync(name: str) -> bool:
    return name in SYNC_OPS or name.startswith(_WAITS)


# kernels that read their own CPU-resident scalars: on CPU the fused optimisers read the step
# counter of each parameter (aten::item inside aten::_fused_adam_); on CUDA the counter lives on
# the device and the kernel reads it there. Not a host read by the training code.
_KERNEL_INTERNAL = ("aten::_fused_",)


def _not_counted(event) -> bool:
    """Nested reads count once (`.item()` is aten::item > aten::_local_scalar_dense >
    cudaStreamSynchronize), and reads inside a fused kernel not at all."""
    parent = getattr(event, "cpu_parent", None)
    while parent is not None:
        if _is_sync(parent.name) or parent.name.startswith(_KERNEL_INTERNAL):
            return True
        parent = getattr(parent, "cpu_parent", None)
    return False


def host_syncs(events: Iterable) -> SyncCount:
    """Count synchronising events of a `torch.profiler` profile, split by the reading ranges.

    `events` is `prof.events()`: FunctionEvents with a `name` and a `time_range`; an event counts
    as inside a read when its interval lies within a `READ_RANGE` event's interval.
    """
    events = list(events)
    reads = [e.time_range for e in events if e.name == READ_RANGE]
    outside, inside, found = 0, 0, []
    for e in events:
        if not _is_sync(e.name) or _not_counted(e):
            continue
        r = e.time_range
        if any(a.start <= r.start and r.end <= a.end for a in reads):
            inside += 1
        else:
            outside += 1
            found.append(e)
    return SyncCount(outside, inside, len(reads), tuple(e.name for e in found), tuple(found))
