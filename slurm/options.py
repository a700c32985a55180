"""Cluster options of a sweep: where and with what resources each (strategy, seed) task runs.

They never change what a run computes (that is the spec's job), so they live apart from it: a lab
writes its partition and account once in `slurm/profiles/<name>.yaml`, and the command line
overrides single values.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from vaal_core.errors import ExpectedError
from vaal_core.registry import did_you_mean
from vaal_core.words import plural

PROFILES = Path(__file__).resolve().parent / "profiles"


class OptionsError(ExpectedError, ValueError):
    """A profile or option that cannot be used; the message names it and the fix."""


@dataclass(frozen=True)
class ClusterOptions:
    partition: str | None = None  # None: the cluster's default partition
    account: str | None = None
    qos: str | None = None
    constraint: str | None = None
    gpus_per_task: int = 0
    cpus_per_task: int = 8
    mem_gb: float | None = None  # None: the partition's default memory
    timeout_min: int = 720
    array_parallelism: int = 64  # tasks of the array running at once (local: processes at once)
    tasks_per_node: int = 1  # > 1: one process per GPU (DDP)
    signal_delay_s: int = 120  # SLURM warns (USR2) this long before the time limit: checkpoint
    max_requeues: int = 5  # time-limit requeues a task may use before it counts as failed
    job_name: str = "vaal"

    def __post_init__(self) -> None:
        for key in ("cpus_per_task", "timeout_min", "array_parallelism", "tasks_per_node"):
            if getattr(self, key) < 1:
                raise OptionsError(f"cluster option '{key}' must be >= 1, got {getattr(self, key)}")
        for key in ("gpus_per_task", "signal_delay_s", "max_requeues"):
            if getattr(self, key) < 0:
                raise OptionsError(f"cluster option '{key}' must be >= 0, got {getattr(self, key)}")
        if self.mem_gb is not None and self.mem_gb <= 0:
            raise OptionsError(f"cluster option 'mem_gb' must be > 0, got {self.mem_gb}")

    def replace(self, **changes: Any) -> ClusterOptions:
        """A copy with the given values; None values mean "not given" and keep the current one."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})


def option_names() -> list[str]:
    return [f.name for f in dataclasses.fields(ClusterOptions)]


def load_profile(name_or_path: str | None) -> ClusterOptions:
    """`slurm/profiles/<name>.yaml`, or a YAML file path; None gives the built-in defaults."""
    if name_or_path is None:
        return ClusterOptions()
    path = Path(name_or_path)
    if not path.suffix:
        path = PROFILES / f"{name_or_path}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in PROFILES.glob("*.yaml")))
        raise OptionsError(
            f"no cluster profile '{name_or_path}' ({path}); known profiles: {known}, or pass a YAML path"
        )
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise OptionsError(f"{path}: a profile is a mapping of option: value")
    unknown = sorted(set(data) - set(option_names()))
    if unknown:
        hint = did_you_mean(unknown[0], option_names())
        raise OptionsError(
            f"{path}: unknown {plural('cluster option', len(unknown))} {', '.join(unknown)}{hint}; "
            f"valid: {', '.join(option_names())}"
        )
    try:
        return ClusterOptions(**data)
    except TypeError as e:
        raise OptionsError(f"{path}: {e}") from e
