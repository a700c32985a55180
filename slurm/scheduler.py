"""What SLURM says about jobs: one squeue call for live jobs, one sacct call for finished ones.

States are folded into the few a user acts on: pending, running, failed, cancelled, completed.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterable

from vaal_core.errors import ExpectedError

# SLURM job state -> the sweep's word for it
STATE_WORDS = {
    "PENDING": "pending",
    "CONFIGURING": "pending",
    "REQUEUED": "pending",
    "REQUEUE_HOLD": "pending",
    "REQUEUE_FED": "pending",
    "RESV_DEL_HOLD": "pending",
    "RESIZING": "pending",
    "RUNNING": "running",
    "COMPLETING": "running",
    "SUSPENDED": "running",
    "STAGE_OUT": "running",
    "SIGNALING": "running",
    "STOPPED": "running",
    "PREEMPTED": "pending",
    "COMPLETED": "completed",
    "CANCELLED": "cancelled",
    "FAILED": "failed",
    "TIMEOUT": "failed",
    "NODE_FAIL": "failed",
    "OUT_OF_MEMORY": "failed",
    "BOOT_FAIL": "failed",
    "DEADLINE": "failed",
    "REVOKED": "failed",
    "SPECIAL_EXIT": "failed",
}
LIVE = {"pending", "running"}


class SchedulerError(ExpectedError, RuntimeError):
    """SLURM's client commands failed; the message carries their own error."""


def slurm_available() -> str | None:
    """None when a SLURM controller answers here, else one line saying why not."""
    if shutil.which("sbatch") is None:
        return "no sbatch on PATH"
    try:
        ping = subprocess.run(["scontrol", "ping"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"scontrol ping failed: {e}"
    if ping.returncode != 0 or "UP" not in ping.stdout:
        said = next(
            (ln.strip() for ln in (ping.stdout + ping.stderr).splitlines() if ln.strip()), ""
        )
        return f"slurmctld does not answer: {said}"
    return None


def _run(cmd: list[str]) -> str:
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise SchedulerError(f"{' '.join(cmd)}: {e}") from e
    if res.returncode != 0:
        raise SchedulerError(f"{' '.join(cmd)}: {res.stderr.strip() or res.stdout.strip()}")
    return res.stdout


def _word(state: str) -> str:
    # sacct writes e.g. "CANCELLED by 0"; squeue writes the bare name
    return STATE_WORDS.get(state.split()[0].rstrip("+"), "failed") if state else "unknown"


def job_states(job_ids: Iterable[str]) -> dict[str, str]:
    """Sweep state word of each job id (array tasks as `12_3`); ids SLURM forgot are left out."""
    ids = sorted({str(j) for j in job_ids})
    if not ids:
        return {}
    states: dict[str, str] = {}
    arrays = sorted({j.split("_")[0] for j in ids})
    for line in _run(["squeue", "-h", "-r", "-j", ",".join(arrays), "-o", "%i|%T"]).splitlines():
        jid, _, state = line.partition("|")
        if jid in ids:
            states[jid] = _word(state)
    rest = [j for j in ids if j not in states]
    if rest:
        out = _run(["sacct", "-n", "-X", "-P", "-j", ",".join(rest), "-o", "JobID,State"])
        for line in out.splitlines():
            jid, _, state = line.partition("|")
            if jid in rest:
                states[jid] = _word(state)  # the last line of a job is its latest attempt
    return states


def wait_for_jobs(job_ids: Iterable[str], timeout_s: float, poll_s: float = 1.0) -> dict[str, str]:
    """Poll until no job is pending or running; bounded by `timeout_s` (then SchedulerError)."""
    ids = list(job_ids)
    deadline = time.monotonic() + timeout_s
    while True:
        states = job_states(ids)
        if not any(states.get(j, "pending") in LIVE for j in ids):
            return states
        if time.monotonic() > deadline:
            raise SchedulerError(f"jobs still live after {timeout_s:.0f}s: {states}")
        time.sleep(poll_s)
