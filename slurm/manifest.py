"""The sweep's memory of where each run was sent: `<out>/<experiment>/.sweep/jobs.json`.

Run directories stay exactly those of a local run; the scheduler-side facts (executor, job id, log
files) live beside them in one small JSON file, updated under a file lock and replaced atomically
so two sweeps of one experiment never lose each other's entries.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from vaal_core.storage import FolderLock, write_atomic


@dataclass(frozen=True)
class JobEntry:
    executor: str  # slurm | local | debug
    job_id: str  # SLURM array task id (`12_3`) or submitit's local id
    folder: str  # submitit's folder: submission script, pickles, logs
    stdout: str
    stderr: str
    result: str  # submitit's result pickle: ("success", value) or ("error", traceback)
    submitted: str  # UTC time, ISO 8601


def run_key(strategy: str, seed: int) -> str:
    return f"{strategy}/seed-{seed}"


def sweep_dir(out: Path, experiment: str) -> Path:
    return Path(out) / experiment / ".sweep"


def read_manifest(out: Path, experiment: str) -> dict[str, JobEntry]:
    path = sweep_dir(out, experiment) / "jobs.json"
    if not path.exists():
        return {}
    try:
        raw = json.loads(path.read_text())
        return {k: JobEntry(**v) for k, v in raw.items()}
    except (json.JSONDecodeError, TypeError) as e:
        raise RuntimeError(
            f"{path} is corrupt ({e}); delete it (run directories are unaffected)"
        ) from e


def record_jobs(out: Path, experiment: str, entries: dict[str, JobEntry]) -> None:
    """Merge `entries` (run key -> latest job) into the manifest."""
    path = sweep_dir(out, experiment) / "jobs.json"
    with FolderLock(path.parent, wait=True, lock_file=path.with_suffix(".lock")):
        merged = read_manifest(out, experiment) | entries
        body = {k: asdict(v) for k, v in sorted(merged.items())}
        write_atomic(path, json.dumps(body, indent=1, sort_keys=True).encode())
