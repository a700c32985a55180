"""One run directory: its files, the order of their durable writes, its lock and its failpoints.

Layout of `<out>/<experiment>/<strategy>/seed-<k>/`:

    .lock           fcntl lock held for the whole run; the kernel drops it when the holder dies
    spec.yaml       the spec and its hash, written first; extensions of `active.cycles` noted here
    env.json        versions, device, split sizes
    pool-<c>.npy    labeled training-set indices the model of cycle c trains on
    state-<c>.pt    what cycle c+1 needs from cycle c (warm-started model, stateful strategy)
    cycles.jsonl    one record per finished cycle: the commit point of that cycle

A cycle commits as: pool-<c+1>.npy, state-<c>.pt, then its line in cycles.jsonl, then
state-<c-1>.pt is dropped. Everything written before the line and not yet referenced by it is
redone by a resume, so a kill anywhere loses at most the cycle in progress. Every file is read
back with a check, and a damaged one is named in a RunDirError that says what to do.
"""

from __future__ import annotations

import datetime as dt
import json
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from ..errors import RunDirConflict, RunDirError, RunLocked
from ..failpoints import armed, die, failpoint
from ..spec import Spec, spec_dict_hash
from ..storage import FolderLock, append_line, write_atomic
from ..words import count
from .pool import indices_sha1
from .runlog import read_records

_START_OVER = "delete the run directory to start this run over"
_RUN_KEYS = ("spec_hash", "strategy", "seed", "extensions", "rehashed")  # spec.yaml beside the spec


def holds_spec(stored: dict[str, Any], spec: Spec) -> bool:
    """Whether a run directory's spec.yaml body is a run of `spec`.

    Its hash is this spec's; or the directory predates the runtime keys that left the hash
    (`Hashed.AS_DEFAULT`, vaal_core/spec/hashing.py): its body still hashes to what it was written with, and under today's
    rule to this spec's hash.
    """
    if stored.get("spec_hash") == spec.hash():
        return True
    body = {k: v for k, v in stored.items() if k not in _RUN_KEYS}
    try:
        legacy = spec_dict_hash(body, legacy=True)
        return legacy == stored.get("spec_hash") and spec_dict_hash(body) == spec.hash()
    except (KeyError, TypeError, AttributeError):  # not a spec body at all
        return False


def another_spec(path: Path, stored: dict[str, Any], spec: Spec) -> RunDirConflict:
    """The refusal of a run directory that holds a run of another spec: what differs, and the
    two ways to keep both runs."""
    changes = spec_changes(stored, spec)
    shown = ", ".join(changes[:_MAX_SHOWN]) + (
        f" and {len(changes) - _MAX_SHOWN} more" if len(changes) > _MAX_SHOWN else ""
    )
    differs = f"what differs (stored -> this): {shown}" if changes else "the spec differs"
    return RunDirConflict(
        f"{path} holds a run of another spec (hash {stored.get('spec_hash')}, this one "
        f"{spec.hash()}); {differs}. To keep both runs, write this one elsewhere: another "
        f"--out, or --set experiment=NAME (its own directory under the same --out); or delete "
        f"{path} to start over"
    )


_MAX_SHOWN = 8  # changes named in the refusal; the rest are counted
_ABSENT = object()


def spec_changes(stored: dict[str, Any], spec: Spec) -> list[str]:
    """`key: old -> new` for every spec key whose change alone changes the spec hash, between a
    run directory's spec.yaml body and `spec` (nested keys flattened as `section.key`). Keys
    the hash leaves out (`active.cycles`, the default strategy and seed lists, the thread
    count) are never named: changing them alone is allowed."""
    body = {k: v for k, v in stored.items() if k not in _RUN_KEYS}
    old, new = _flat(body), _flat(spec.to_dict())
    try:
        before = spec_dict_hash(body)
    except (KeyError, TypeError, AttributeError):  # not a spec body at all
        return []
    changes = []
    for key in sorted(old.keys() | new.keys()):
        was, now = old.get(key, _ABSENT), new.get(key, _ABSENT)
        if was == now or spec_dict_hash(_with(body, key, now)) == before:
            continue
        changes.append(f"{key}: {_shown(was)} -> {_shown(now)}")
    return changes


def _flat(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out |= _flat(v, key + ".")
        else:
            out[key] = v
    return out


def _with(body: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    """A copy of `body` with the dotted `key` set to `value` (removed when `_ABSENT`)."""
    *sections, last = key.split(".")
    copy = dict(body)
    node = copy
    for section in sections:
        node[section] = dict(node.get(section) or {})
        node = node[section]
    if value is _ABSENT:
        node.pop(last, None)
    else:
        node[last] = value
    return copy


def _shown(value: Any) -> str:
    if value is _ABSENT:
        return "(not set)"
    return json.dumps(value) if not isinstance(value, str) else value


def _write_yaml(path: Path, body: dict[str, Any]) -> None:
    write_atomic(path, yaml.safe_dump(body, sort_keys=False).encode())


def _write_npy(path: Path, array: np.ndarray) -> None:
    write_atomic(path, lambda f: np.save(f, array))


class RunDir:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.spec_path = self.path / "spec.yaml"
        self.env_path = self.path / "env.json"
        self.log_path = self.path / "cycles.jsonl"
        self.lock_path = self.path / ".lock"

    def pool_path(self, cycle: int) -> Path:
        return self.path / f"pool-{cycle}.npy"

    def state_path(self, cycle: int) -> Path:
        return self.path / f"state-{cycle}.pt"

    # ------------------------------------------------------------------ lock
    @contextmanager
    def locked(self, wait: bool = False) -> Iterator[None]:
        """Hold the run directory for this process; a second one fails at once (or waits)."""
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise RunDirError(
                f"cannot create the run directory {self.path} ({e.strerror}); "
                f"choose a writable --out"
            ) from e
        lock = FolderLock(
            self.path,
            wait=wait,
            busy=RunLocked,
            hint="wait for it to finish, stop it, or rerun with --wait",
        )
        with lock:
            self._remove_temporaries()
            yield

    def _remove_temporaries(self) -> None:
        """Temp files of atomic writes cut off by a kill; safe to remove under the lock."""
        for tmp in self.path.glob(".*.tmp"):
            tmp.unlink(missing_ok=True)

    # ------------------------------------------------------------------ claim
    def claim(self, spec: Spec, strategy: str, seed: int) -> list[dict[str, Any]]:
        """Create the run, or check the existing one is this run; return its committed records.

        Raising `active.cycles` on a run extends it (noted in spec.yaml); any other change is
        refused. A record that ended a run without a query is dropped when the run is extended,
        so its cycle is redone with a query (same seed, same set: the same model).
        """
        if not self.spec_path.exists():
            leftovers = [p.name for p in self._run_files()]
            if leftovers:
                raise RunDirError(
                    f"{self.spec_path} is missing but {self.path} holds {', '.join(leftovers[:3])}: "
                    f"the directory is damaged; restore spec.yaml or {_START_OVER}"
                )
            body = {"spec_hash": spec.hash(), "strategy": strategy, "seed": seed, **spec.to_dict()}
            _write_yaml(self.spec_path, body)
            failpoint("after_spec", 0)
            return []
        stored = self._read_spec()
        self._check_same_run(stored, spec, strategy, seed)
        records = self._read_records(spec.active.cycles)
        if stored["spec_hash"] != spec.hash():
            records = self._rehash(stored, spec, records)
        if stored.get("active", {}).get("cycles") != spec.active.cycles:
            self._extend(stored, spec, len(records))
        if records and records[-1]["selected_sha1"] is None and len(records) < spec.active.cycles:
            records = self._drop_last_record(records)
        return records

    def _run_files(self) -> list[Path]:
        names = ("env.json", "cycles.jsonl", "pool-*.npy", "state-*.pt")
        return sorted(p for pattern in names for p in self.path.glob(pattern))

    def _read_spec(self) -> dict[str, Any]:
        try:
            stored = yaml.safe_load(self.spec_path.read_text())
        except (yaml.YAMLError, UnicodeDecodeError) as e:
            raise RunDirError(
                f"{self.spec_path} is not readable YAML ({str(e).splitlines()[0]}); restore it "
                f"or {_START_OVER}"
            ) from e
        if not isinstance(stored, dict) or "spec_hash" not in stored:
            raise RunDirError(
                f"{self.spec_path} does not hold a run spec (no spec_hash); restore it or {_START_OVER}"
            )
        return stored

    def _check_same_run(self, stored: dict, spec: Spec, strategy: str, seed: int) -> None:
        if stored.get("strategy") != strategy or stored.get("seed") != seed:
            raise RunDirConflict(
                f"{self.path} holds strategy {stored.get('strategy')!r} seed {stored.get('seed')!r}, "
                f"not {strategy!r} seed {seed}; the directory was moved or edited by hand"
            )
        if not holds_spec(stored, spec):
            raise another_spec(self.path, stored, spec)

    def _rehash(self, stored: dict, spec: Spec, records: list[dict[str, Any]]) -> list[dict]:
        """A directory written under the older hash rule: its records, then spec.yaml, take
        today's hash (so one run never mixes two hashes); a kill in between redoes both."""
        old = stored["spec_hash"]
        records = [{**r, "spec_hash": spec.hash()} for r in records]
        write_atomic(
            self.log_path, "".join(json.dumps(r, sort_keys=True) + "\n" for r in records).encode()
        )
        stored["spec_hash"] = spec.hash()
        stored["rehashed"] = {"from": old, "at": dt.datetime.now().isoformat(timespec="seconds")}
        _write_yaml(self.spec_path, stored)
        return records

    def _extend(self, stored: dict, spec: Spec, done: int) -> None:
        before = stored.get("active", {}).get("cycles")
        if (
            not isinstance(before, int)
            or spec.active.cycles < max(before, 1)
            or done > spec.active.cycles
        ):
            raise RunDirConflict(
                f"{self.path} holds a run of {count(before, 'cycle')} ({done} done); a run can be extended "
                f"to more cycles, never shortened: set active.cycles >= {max(done, before or 0)}"
            )
        stored["active"]["cycles"] = spec.active.cycles
        note = {
            "from_cycles": before,
            "to_cycles": spec.active.cycles,
            "records_then": done,
            "at": dt.datetime.now().isoformat(timespec="seconds"),
        }
        stored.setdefault("extensions", []).append(note)
        _write_yaml(self.spec_path, stored)

    def _read_records(self, cycles: int) -> list[dict[str, Any]]:
        try:
            records = read_records(self.log_path, repair=True)
        except ValueError as e:
            raise RunDirError(f"{e}; or {_START_OVER}") from e
        for i, r in enumerate(records):
            if r.get("cycle") != i:
                raise RunDirError(
                    f"{self.log_path} line {i + 1} is out of sequence (cycle {r.get('cycle')}, "
                    f"expected {i}); the file was edited by hand: restore it or {_START_OVER}"
                )
        return records

    def _drop_last_record(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Rewrite cycles.jsonl without its last line (the end of a run now being extended)."""
        text = "".join(json.dumps(r, sort_keys=True) + "\n" for r in records[:-1])
        write_atomic(self.log_path, text.encode())
        return records[:-1]

    # ------------------------------------------------------------------ env
    def ensure_env(self, env: dict[str, Any], n_records: int) -> None:
        """Write env.json once; it must exist (and parse) for any run past its first write."""
        if self.env_path.exists():
            try:
                json.loads(self.env_path.read_text())
            except (json.JSONDecodeError, UnicodeDecodeError) as e:
                raise RunDirError(
                    f"{self.env_path} is not valid JSON ({e}); restore it or {_START_OVER}"
                ) from e
            return
        if n_records or self.pool_path(0).exists():
            raise RunDirError(
                f"{self.env_path} is missing although the run has started; restore it or {_START_OVER}"
            )
        write_atomic(self.env_path, json.dumps(env, indent=2, sort_keys=True).encode())
        failpoint("after_env", 0)

    # ------------------------------------------------------------------ read back
    def load_pool(self, cycle: int) -> np.ndarray:
        path = self.pool_path(cycle)
        if not path.exists():
            raise RunDirError(
                f"{path} is missing; the run needs it to resume: restore it or {_START_OVER}"
            )
        try:
            idx = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as e:
            raise RunDirError(
                f"{path} is not a readable index array ({str(e).splitlines()[0]}); "
                f"restore it or {_START_OVER}"
            ) from e
        if idx.ndim != 1 or idx.dtype.kind not in "iu":
            raise RunDirError(
                f"{path} holds a {idx.dtype} array of shape {idx.shape}, not a list of indices; "
                f"restore it or {_START_OVER}"
            )
        return idx.astype(np.int64)

    def initial_pool(self, labeled: np.ndarray) -> np.ndarray:
        """pool-0.npy: written on the first start, and on a restart checked against `labeled`."""
        path = self.pool_path(0)
        if path.exists():
            if indices_sha1(self.load_pool(0)) != indices_sha1(labeled):
                raise RunDirError(
                    f"{path} holds another initial set than this spec and seed draw; "
                    f"restore it or {_START_OVER}"
                )
            return labeled
        _write_npy(path, labeled)
        return labeled

    def resume_pool(self, records: list[dict[str, Any]]) -> np.ndarray:
        """The labeled set after the last committed cycle, checked against the records' hashes."""
        n = len(records)
        for c in range(n):
            if indices_sha1(self.load_pool(c)) != records[c]["labeled_sha1"]:
                raise RunDirError(
                    f"{self.pool_path(c)} does not match the record of cycle {c} in "
                    f"{self.log_path.name} (labeled_sha1); restore it or {_START_OVER}"
                )
        prev, now = self.load_pool(n - 1), self.load_pool(n)
        added = np.setdiff1d(now, prev)
        if not np.isin(prev, now).all() or indices_sha1(added) != records[-1]["selected_sha1"]:
            raise RunDirError(
                f"{self.pool_path(n)} is not pool-{n - 1} plus the indices cycle {n - 1} selected "
                f"(selected_sha1); restore it or {_START_OVER}"
            )
        return now

    def check_no_lost_records(self, n_records: int) -> None:
        """Files of cycles beyond the one in progress mean records were lost."""
        for p in self.path.glob("pool-*.npy"):
            c = int(p.stem.split("-")[1]) if p.stem.split("-")[1].isdigit() else -1
            if c > n_records + 1:
                raise RunDirError(
                    f"{p} exists but {self.log_path.name} holds only {count(n_records, 'record')}: "
                    f"records were lost; restore {self.log_path.name} or {_START_OVER}"
                )

    def drop_stale_states(self, n_records: int) -> None:
        """States older than the one the next cycle starts from (left by a kill after a record)."""
        for p in self.path.glob("state-*.pt"):
            c = p.stem.split("-")[1]
            if c.isdigit() and int(c) < n_records - 1:
                p.unlink()

    def load_state(self, cycle: int) -> dict[str, Any]:
        path = self.state_path(cycle)
        if not path.exists():
            raise RunDirError(
                f"{path} is missing; it carries the warm-started state into cycle {cycle + 1}: "
                f"restore it or {_START_OVER}"
            )
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except (RuntimeError, OSError, EOFError, zipfile.BadZipFile, ValueError) as e:
            raise RunDirError(
                f"{path} is not a readable state file ({str(e).splitlines()[0]}); "
                f"restore it or {_START_OVER}"
            ) from e

    # ------------------------------------------------------------------ commit
    def commit(
        self,
        record: dict[str, Any],
        next_labeled: np.ndarray | None,
        carry: dict[str, Any] | None,
    ) -> None:
        """Make cycle `record['cycle']` durable, in the order the module docstring gives."""
        cycle = record["cycle"]
        if next_labeled is not None:
            _write_npy(self.pool_path(cycle + 1), next_labeled)
            failpoint("after_pool", cycle)
            if carry:
                write_atomic(self.state_path(cycle), lambda f: torch.save(carry, f))
            failpoint("after_state", cycle)
        line = json.dumps(record, sort_keys=True)
        if armed("mid_record", cycle):
            append_line(self.log_path, line[: len(line) // 2], newline=False)
            die()
        append_line(self.log_path, line)
        failpoint("after_record", cycle)
        if next_labeled is not None:  # the last cycle keeps its input state, for an extension
            self.state_path(cycle - 1).unlink(missing_ok=True)
