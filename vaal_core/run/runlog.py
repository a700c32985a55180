"""Run records: the cycle record, reading cycles.jsonl back, environment capture.

The files themselves are written by `vaal_core.storage` (atomic replace, fsynced appends), so a
crash, kill or full disk loses at most the cycle in progress.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import platform
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

# the repository this module was installed from (vaal_core/run/runlog.py is two folders down)
CHECKOUT = Path(__file__).resolve().parents[2]


@dataclass
class CycleRecord:
    run_id: str
    experiment: str
    dataset: str
    strategy: str
    protocol: str
    seed: int
    spec_hash: str
    git_rev: str
    cycle: int
    n_labeled: int
    fraction: float  # labeled / candidate pool size
    metric: str
    value: float
    train_s: float
    query_s: float
    peak_mem_mb: float
    labeled_sha1: str  # the set the model of this cycle was trained on
    n_selected: int
    selected_sha1: str | None  # indices queried at the end of this cycle (None on the last)
    precision: str
    device: str
    # what the strategy reported about its query (extra training seconds, diagnostics, ...)
    query_stats: dict[str, Any] = dataclasses.field(default_factory=dict)
    # true-class histogram of the selected images (None on the last cycle): shows sampling bias
    selected_classes: list[int] | None = None
    # noisy-oracle ablation: images new in this cycle whose label the oracle got wrong
    label_noise_flipped: list[int] | None = None
    # segmentation: IoU of each class over the evaluation set (index = train id; null for a class
    # absent from both truth and prediction, left out of `value`, the mIoU). Omitted from
    # classification records, which keep their bytes.
    per_class_iou: list[float | None] | None = None
    # training health (README, "Training health"): the last window's training loss, the metric
    # on the labeled set itself (eval mode, no augmentation; on `train_fit_n` images, a seeded
    # subsample past trainer.FIT_SAMPLE), whether the model fit, non-finite losses skipped, and
    # the kept checkpoint's validation metric (None without a validation split)
    train_loss: float | None = None
    train_fit: float | None = None
    train_fit_n: int | None = None
    fit_ok: bool | None = None
    nonfinite_losses: int | None = None
    val_value: float | None = None
    # bugs of the original switched on (protocol.quirks); omitted when none, so records of runs
    # without quirks keep their bytes
    quirks: list[str] | None = None

    def as_record(self) -> dict[str, Any]:
        """The line written to cycles.jsonl (fields that do not apply are left out)."""
        d = dict(self.__dict__)
        for optional in ("per_class_iou", "quirks"):
            if d[optional] is None:
                d.pop(optional)
        return d

    def to_json(self) -> str:
        return json.dumps(self.as_record(), sort_keys=True)


# what differs between two runs of the same seed on the same machine: ids, clocks, memory
VOLATILE_FIELDS = frozenset({"run_id", "train_s", "query_s", "peak_mem_mb", "git_rev"})
_VOLATILE_STATS = ("_s", "peak_mem")  # query_stats keys ending/starting so: seconds and memory


def reproducible_part(record: dict[str, Any]) -> dict[str, Any]:
    """A record without what legitimately varies run to run: what resume and seeds must repeat."""
    out = {k: v for k, v in record.items() if k not in VOLATILE_FIELDS}
    if isinstance(out.get("query_stats"), dict):
        out["query_stats"] = {
            k: v
            for k, v in out["query_stats"].items()
            if not (k.endswith(_VOLATILE_STATS[0]) or k.startswith(_VOLATILE_STATS[1]))
        }
    return out


def read_records(path: Path, repair: bool = False) -> list[dict[str, Any]]:
    """Complete records of a cycles.jsonl.

    A last line without its newline is a write cut off by a kill: with `repair` it is truncated
    away (it belongs to the cycle in progress); a corrupt complete line is always an error.
    """
    path = Path(path)
    if not path.exists():
        return []
    raw = path.read_bytes()
    good_end = raw.rfind(b"\n") + 1
    if good_end < len(raw):
        if not repair:
            raise ValueError(
                f"{path}: last line is incomplete (a killed write); resume the run to repair it"
            )
        with open(path, "r+b") as f:
            f.truncate(good_end)
            os.fsync(f.fileno())
    records = []
    for n, line in enumerate(raw[:good_end].decode().splitlines(), 1):
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as e:
            raise ValueError(
                f"{path}:{n}: corrupt record ({e.msg}); remove or fix that line"
            ) from e
    return records


def git_revision() -> str:
    try:
        root = CHECKOUT
        rev = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
        return (rev + ("-dirty" if dirty else "")) if rev else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def cpu_model() -> str:
    """The CPU's marketing name (platform.processor() is often just the architecture)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment_record(device: str) -> dict[str, Any]:
    from importlib.metadata import version

    import torch

    env = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_model": cpu_model(),
        "torch": torch.__version__,
        "torchvision": version("torchvision"),  # no import: it costs seconds
        "numpy": np.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.cuda.is_available() else None,
        "device": device,
        "gpu": torch.cuda.get_device_name(0) if device.startswith("cuda") else None,
        "num_threads": torch.get_num_threads(),
        "git_rev": git_revision(),
        "lock_sha256": lock_sha256(),
    }
    return env


LOCK_FILE = CHECKOUT / "requirements.lock"


def lock_sha256(path: Path = LOCK_FILE) -> str | None:
    """sha256 of the pip constraints `make venv` installs from (None outside a checkout): which
    exact versions the environment was built to; the versions themselves are recorded above."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None
