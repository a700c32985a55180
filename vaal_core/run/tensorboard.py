"""Watching a run in TensorBoard: `--tensorboard` on `run`/`demo`, or `VAAL_TENSORBOARD=1`.

An environment switch, not a spec key: logging changes nothing a run computes, so it must not
change the spec's hash or the run directory a run resumes (and launched runs inherit it). The
events go to `<run_dir>/tensorboard/`; `tensorboard --logdir results/` shows every run.

What is written, and where it is read (always where the code already reads its losses on the
host, once per `runtime.log_every` steps: logging adds no device synchronisation per step):
- `task/loss`, `task/lr`, `task/val_metric_pct` per reading window of the task model's training
  (the loop's own model only: members a strategy trains are not logged);
- `vaal/vae`, `vaal/recon`, `vaal/kl`, `vaal/adv`, `vaal/disc` per reading window of VAAL's
  game (`recon + kl + adv = vae`; kl is weighted by vaal.beta, adv by vaal.adversary_param);
- `cycle/test_<metric>_pct`, `cycle/val_<metric>_pct`, `cycle/train_s`, `cycle/query_s`,
  `cycle/n_labeled` once a cycle is committed.

Metrics (accuracy, mIoU) are written in percent, as the tables and the command line print them;
the records keep the fraction. `_pct` in the tag says so.

Steps: cycle x `STRIDE` + the step within the cycle, so one curve runs across cycles; a cycle's
own scalars sit at the end of its range (`(cycle + 1) x STRIDE - 1`). A resumed run opens a new
event file that starts with TensorBoard's purge marker at the first step it may rewrite: the
killed attempt's events from there on are dropped when read, so no step appears twice; the last
committed cycle's scalars (which the kill may have lost) are written again from its record.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ExpectedError

ENV = "VAAL_TENSORBOARD"
FOLDER = "tensorboard"
STRIDE = 10_000_000  # steps per cycle on the step axis (more than any cycle trains)
FLUSH_S = 30  # a long phase's events reach the disk at least this often
VAAL_TAGS = ("vae", "recon", "kl", "adv", "disc")


class TensorBoardError(ExpectedError, ImportError):
    """Logging asked for, but the tensorboard package is not installed."""


def enabled() -> bool:
    return os.environ.get(ENV, "").lower() in ("1", "true", "yes")


def switch_on() -> None:
    """`--tensorboard`: on for this process and every run it launches."""
    os.environ[ENV] = "1"
    check_available()


def check_available() -> None:
    if not enabled():
        return
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        raise TensorBoardError(
            f"--tensorboard ({ENV}=1) needs the tensorboard package: pip install tensorboard "
            "(or the suite's tensorboard extra)"
        ) from None


@dataclass
class _RunLog:
    """The open writer of the run this process executes, and what it is doing now."""

    writer: Any
    phase: str | None = None  # "train" (the loop's task model) or "query"
    cycle: int = 0

    def add(self, tag: str, value: float | None, step: int) -> None:
        if value is not None and math.isfinite(value):
            self.writer.add_scalar(tag, value, self.cycle * STRIDE + step)


_active: _RunLog | None = None


def watching() -> bool:
    """Whether a run's log is open (the VAAL game then keeps its loss terms apart)."""
    return _active is not None


@contextlib.contextmanager
def run_log(run_dir: Path, start: int, records: list[dict[str, Any]]) -> Iterator[None]:
    """The run's log while its cycles run from `start`; nothing when the switch is off."""
    global _active
    if not enabled():
        yield
        return
    check_available()
    from torch.utils.tensorboard import SummaryWriter

    first = max(0, start * STRIDE - 1)  # the killed attempt's events from here on are dropped
    writer = SummaryWriter(str(Path(run_dir) / FOLDER), purge_step=first, flush_secs=FLUSH_S)
    _active = _RunLog(writer)
    try:
        if start:
            cycle_done(records[start - 1])
        yield
    finally:
        _active = None
        writer.close()


@contextlib.contextmanager
def phase(name: str, cycle: int) -> Iterator[None]:
    """What the loop does now: its task model's training ("train") or the query ("query")."""
    if _active is None:
        yield
        return
    _active.phase, _active.cycle = name, cycle
    try:
        yield
    finally:
        _active.phase = None
        _active.writer.flush()  # a phase's events are on disk before the next phase starts


def _percent(value: float | None) -> float | None:
    """A metric the records keep as a fraction, in percent as every table prints it."""
    return None if value is None else 100.0 * value


def task_window(step: int, loss: float | None, lr: Any) -> None:
    """One reading window of the loop's task-model training (trainer.py)."""
    if _active is None or _active.phase != "train":
        return
    _active.add("task/loss", loss, step)
    if isinstance(lr, (int, float)):  # a tensor lr (capturable optimisers) is not read
        _active.add("task/lr", float(lr), step)


def validation(step: int, value: float) -> None:
    if _active is not None and _active.phase == "train":
        _active.add("task/val_metric_pct", _percent(value), step)


def vaal_window(iteration: int, means: Mapping[str, float]) -> None:
    """One reading window of VAAL's game (vaal/strategy.py), during the loop's query."""
    if _active is None or _active.phase != "query":
        return
    for name in VAAL_TAGS:
        _active.add(f"vaal/{name}", means.get(name), iteration)


def cycle_done(record: Mapping[str, Any]) -> None:
    """A committed cycle's numbers, at the end of its step range (loop.py, after the commit)."""
    if _active is None:
        return
    log, metric = _active, record["metric"]
    log.cycle = record["cycle"]
    end = STRIDE - 1
    log.add(f"cycle/test_{metric}_pct", _percent(record.get("value")), end)
    log.add(f"cycle/val_{metric}_pct", _percent(record.get("val_value")), end)
    for key in ("train_s", "query_s", "n_labeled"):
        log.add(f"cycle/{key}", record.get(key), end)
    log.writer.flush()
