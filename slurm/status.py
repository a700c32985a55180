"""`--status`: one row per run of a sweep, from its run directory, its job and its logs.

Cycles come from the run directory (the only truth about progress); the state from the scheduler
for live jobs, else from submitit's result pickle; a failed run names its log and its last error
line, so the table alone says where to look.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from submitit.core.utils import pickle_load

from vaal_core.run.loop import run_dir_for
from vaal_core.run.runlog import read_records
from vaal_core.spec import Spec
from vaal_core.words import count

from .launchers import is_queued
from .manifest import JobEntry, read_manifest, run_key
from .scheduler import SchedulerError, job_states

# a Python exception line, or a SLURM/launcher error line (slurmstepd: error: ... CANCELLED ...)
_ERROR_LINE = re.compile(
    r"^([A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt|Locked|Conflict)\b.*|.*\berror:.*)$"
)


@dataclass(frozen=True)
class RunStatus:
    strategy: str
    seed: int
    cycles_done: int
    cycles_total: int
    state: str  # done | running | pending | failed | cancelled | stopped | not submitted
    job_id: str | None
    log: str | None  # stderr of the latest attempt (failed runs)
    error: str | None  # its last error line

    @property
    def key(self) -> str:
        return run_key(self.strategy, self.seed)


def cycles_done(run_dir: Path) -> int:
    """Complete records; a cut-off last line (a killed write) does not count."""
    path = run_dir / "cycles.jsonl"
    if not path.is_file():  # absent (or not a regular file: never block reading it)
        return 0
    try:
        return len(read_records(path))
    except ValueError:
        return path.read_bytes().count(b"\n") if path.is_file() else 0
    except OSError:
        return 0


def last_error_line(*texts: str) -> str | None:
    """The last line that reads as an error, searching each text in turn."""
    for text in texts:
        hits = [ln.strip() for ln in text.splitlines() if _ERROR_LINE.match(ln.strip())]
        if hits:
            return hits[-1]
    return None


def _result(entry: JobEntry) -> tuple[str, str] | None:
    path = Path(entry.result)
    if not path.is_file():
        return None
    try:
        outcome, value = pickle_load(path)
    except Exception:  # a half-written pickle of a killed job: no outcome yet
        return None
    return outcome, str(value)


def _read(path: str) -> str:
    p = Path(path)
    return p.read_text(errors="replace") if p.is_file() else ""


def collect_status(
    spec: Spec, strategies: list[str], seeds: list[int], out: Path
) -> list[RunStatus]:
    manifest = read_manifest(out, spec.experiment)
    wanted = [(s, k, manifest.get(run_key(s, k))) for s in strategies for k in seeds]
    slurm_ids = [e.job_id for _, _, e in wanted if e and is_queued(e.executor)]
    try:
        live = job_states(slurm_ids) if slurm_ids else {}
    except SchedulerError:  # scheduler gone (e.g. a laptop looking at cluster results)
        live = {}
    rows = []
    for strategy, seed, entry in wanted:
        done = cycles_done(run_dir_for(out, spec, strategy, seed))
        total = spec.active.cycles
        log = error = None
        if done >= total:
            state = "done"
        elif entry is None:
            state = "not submitted"
        else:
            state = live.get(entry.job_id, "stopped") if is_queued(entry.executor) else "stopped"
            result = _result(entry)
            if state not in ("pending", "running"):
                if result and result[0] == "error":
                    state = "failed"
                elif state in ("completed", "stopped"):
                    state = "stopped"  # ended without finishing (killed); re-submit resumes it
            if state in ("failed", "cancelled", "stopped"):
                log = entry.stderr
                error = last_error_line(result[1] if result else "", _read(entry.stderr))
        rows.append(
            RunStatus(
                strategy, seed, done, total, state, entry.job_id if entry else None, log, error
            )
        )
    return rows


def format_table(rows: list[RunStatus]) -> str:
    header = ("run", "cycles", "state", "job", "log / last error")
    body = [
        (
            r.key,
            f"{r.cycles_done}/{r.cycles_total}",
            r.state,
            r.job_id or "-",
            f"{r.log}: {r.error or '(no error line)'}" if r.log else "",
        )
        for r in rows
    ]
    widths = [max(len(x[i]) for x in [header, *body]) for i in range(4)]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row[:4], widths, strict=True)) + "  " + row[4]
        for row in [header, *body]
    ]
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.state] = counts.get(r.state, 0) + 1
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    return "\n".join([*(ln.rstrip() for ln in lines), f"{count(len(rows), 'run')}: {summary}"])
