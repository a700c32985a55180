"""The active-learning loop: train, evaluate, record, query, label; resumable after any kill.

Every cycle draws its randomness from (seed, cycle, purpose) alone, so a resumed run repeats
exactly what an uninterrupted one would have done. The commit point of a cycle is the append of
its line to cycles.jsonl; everything it needs afterwards (the next labeled set, any state carried
to the next cycle) is written atomically before that line.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from tqdm.auto import tqdm

from .data import ImageData, check_dataset_name, dataset_from_spec  # [data] dataset_from_spec
from .device import check_precision, peak_memory_mb, resolve_device, seed_everything
from .models import TASK_MODELS, build_task_model
from .pool import Pool, indices_sha1, initial_labeled, split_indices, test_subset
from .runlog import (
    CycleRecord,
    append_line,
    atomic_save_npy,
    atomic_torch_save,
    atomic_write_text,
    environment_record,
    git_revision,
    read_records,
)
from .spec import (  # [data]
    Spec,
    SpecError,
    check_pool_fits,
    initial_train_size,
    labeled_offset,
    resolved_val_size,
)
from .strategies import QueryContext, check_strategy_name, make_strategy
from .trainer import Batches, evaluate, train_task_model

# purposes of the per-cycle random streams
_INIT, _TRAIN, _QUERY = 0, 1, 2


class RunDirConflict(RuntimeError):
    """The run directory belongs to a run with another spec; it is never overwritten."""


def run_dir_for(out: Path, spec: Spec, strategy: str, seed: int) -> Path:
    return Path(out) / spec.experiment / strategy / f"seed-{seed}"


def preflight(spec: Spec, strategy: str) -> None:
    """Every name in the spec resolves, before data is read or compute is spent."""
    check_strategy_name(strategy)
    check_dataset_name(spec.dataset.name)
    if spec.task.model not in TASK_MODELS:
        raise SpecError(
            f"spec key 'task.model' is '{spec.task.model}'; valid names: {', '.join(sorted(TASK_MODELS))}"
        )


class ActiveLoop:
    def __init__(
        self,
        spec: Spec,
        strategy: str,
        seed: int,
        out: str | Path = "results",
        data_root: str | Path | None = None,
        progress: bool = True,
        data: ImageData | None = None,
    ):
        preflight(spec, strategy)
        self.spec, self.strategy_name, self.seed = spec, strategy, seed
        self.run_dir = run_dir_for(Path(out), spec, strategy, seed)
        self.data_root, self.progress, self._data = data_root, progress, data
        self.device = resolve_device(spec.runtime.device)
        check_precision(spec.runtime.precision, self.device)

    # ------------------------------------------------------------------ run directory
    def _claim_run_dir(self) -> list[dict[str, Any]]:
        """Create the run dir, or check an existing one holds this very spec; return its records."""
        spec_path = self.run_dir / "spec.yaml"
        if spec_path.exists():
            existing = yaml.safe_load(spec_path.read_text())
            theirs = existing.get("spec_hash")
            if theirs != self.spec.hash():
                raise RunDirConflict(
                    f"{self.run_dir} holds a run of another spec (hash {theirs}, this one {self.spec.hash()}); "
                    f"choose another --out, or delete that directory to start over"
                )
            return read_records(self.run_dir / "cycles.jsonl", repair=True)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        body = {
            "spec_hash": self.spec.hash(),
            "strategy": self.strategy_name,
            "seed": self.seed,
            **self.spec.to_dict(),
        }
        atomic_write_text(spec_path, yaml.safe_dump(body, sort_keys=False))
        return []

    def _check_records(self, records: list[dict[str, Any]]) -> None:
        for i, r in enumerate(records):
            if r["cycle"] != i or r["seed"] != self.seed or r["strategy"] != self.strategy_name:
                raise RuntimeError(
                    f"{self.run_dir / 'cycles.jsonl'} line {i + 1} is out of sequence "
                    f"(cycle {r['cycle']}, expected {i}); the run directory was edited by hand"
                )

    # ------------------------------------------------------------------ main
    def run(self) -> list[dict[str, Any]]:
        spec, a = self.spec, self.spec.active
        records = self._claim_run_dir()
        self._check_records(records)
        if len(records) >= a.cycles:
            tqdm.write(f"{self.run_dir}: complete ({len(records)} cycles), nothing to do")
            return records

        if spec.runtime.num_threads:
            torch.set_num_threads(spec.runtime.num_threads)
        data = self._data or dataset_from_spec(
            spec.dataset, self.data_root, self.progress
        )  # [data]
        candidates, val = split_indices(
            spec.dataset.name, len(data.train_y), spec.dataset.pool_size, spec.dataset.pool_seed,
            resolved_val_size(spec, len(data.train_y)), self.seed,  # [data] val_fraction
        )  # fmt: skip
        check_pool_fits(spec, len(candidates))
        test_idx = test_subset(spec.dataset.name, len(data.test_y), spec.dataset.test_size)
        data = data.with_test_subset(test_idx)  # [data] either storage
        env_path = self.run_dir / "env.json"
        if not env_path.exists():
            env = environment_record(str(self.device)) | {
                "val_size": int(len(val)), "pool_size": int(len(candidates)), "test_size": int(len(data.test_y))
            }  # fmt: skip
            atomic_write_text(env_path, json.dumps(env, indent=2, sort_keys=True))

        start = len(records)
        if start == 0:
            labeled = initial_labeled(
                spec.dataset.name, candidates, initial_train_size(spec, len(val)), self.seed
            )  # [data]
            atomic_save_npy(self.run_dir / "pool-0.npy", labeled)
        pool = Pool(candidates, np.load(self.run_dir / f"pool-{start}.npy"))
        strategy = make_strategy(self.strategy_name, spec)
        model_state = None
        if start > 0:
            model_state = self._load_carry(start - 1, strategy)

        data = self._to_device(data)
        batches = Batches(
            data, self.device, spec.runtime.channels_last, spec.task.augmentation
        )  # [data]
        run_id = uuid.uuid4().hex[:12] if start == 0 else records[0]["run_id"]
        git_rev = git_revision()
        cycles = tqdm(range(start, a.cycles), desc=f"{self.strategy_name} seed {self.seed}", initial=start,
                      total=a.cycles, disable=not self.progress)  # fmt: skip
        for cycle in cycles:
            if self.device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(self.device)
            labeled_now = pool.labeled
            t0 = time.perf_counter()
            model = self._task_model(cycle, data, model_state)
            gen = seed_everything(self.seed, cycle, _TRAIN)
            model, val_acc = train_task_model(
                model,
                batches,
                labeled_now,
                spec.task,
                spec.runtime,
                gen,
                val=val,
                progress=self.progress,
            )
            value = evaluate(model, batches, spec.task, spec.runtime)
            train_s = time.perf_counter() - t0

            selected, query_s, query_stats = None, 0.0, {}
            if cycle < a.cycles - 1:
                t1 = time.perf_counter()
                gen = seed_everything(self.seed, cycle, _QUERY)
                ctx = QueryContext(
                    spec=spec, pool=pool, task_model=model, batches=batches,
                    rng=np.random.default_rng([self.seed, cycle, _QUERY]), generator=gen, cycle=cycle,
                    progress=self.progress,
                )  # fmt: skip
                selected = np.asarray(
                    strategy.select(ctx, min(a.budget, len(pool.unlabeled))), dtype=np.int64
                )
                query_s = time.perf_counter() - t1
                query_stats = ctx.stats
                pool.label(selected)  # raises on duplicates or already-labeled indices
                atomic_save_npy(self.run_dir / f"pool-{cycle + 1}.npy", pool.labeled)
                self._save_carry(cycle, model, strategy)

            rec = CycleRecord(
                run_id=run_id, experiment=spec.experiment, dataset=spec.dataset.name, strategy=self.strategy_name,
                protocol=spec.protocol.name, seed=self.seed, spec_hash=spec.hash(), git_rev=git_rev, cycle=cycle,
                n_labeled=len(labeled_now) + labeled_offset(spec, len(val)),  # [data] val paid from budget
                fraction=(len(labeled_now) + labeled_offset(spec, len(val))) / (len(pool) + labeled_offset(spec, len(val))), metric="accuracy",
                value=value, train_s=round(train_s, 3), query_s=round(query_s, 3),
                peak_mem_mb=round(peak_memory_mb(self.device), 1), labeled_sha1=indices_sha1(labeled_now),
                n_selected=0 if selected is None else len(selected),
                selected_sha1=None if selected is None else indices_sha1(selected),
                precision=spec.runtime.precision, device=str(self.device), query_stats=query_stats,
            )  # fmt: skip
            append_line(self.run_dir / "cycles.jsonl", rec.to_json())
            self._drop_carry(cycle - 1)
            records.append(rec.__dict__)
            val_note = f" val={val_acc:.4f}" if val_acc is not None else ""
            tqdm.write(
                f"[{spec.experiment} {self.strategy_name} seed {self.seed}] cycle {cycle + 1}/{a.cycles} "
                f"labeled={len(labeled_now)} ({100 * rec.fraction:.1f}%) accuracy={value:.4f}{val_note} "
                f"train {train_s:.1f}s query {query_s:.1f}s"
            )
            if not spec.protocol.reset_task_each_cycle:
                model_state = model.state_dict()
        return records

    # ------------------------------------------------------------------ helpers
    def _to_device(self, data: ImageData) -> ImageData:
        return data.to(self.device)  # [data] in-memory tensors move; a disk cache pins its reads

    def _task_model(self, cycle: int, data: ImageData, state: dict | None) -> torch.nn.Module:
        seed_everything(self.seed, cycle, _INIT)
        model = build_task_model(self.spec.task.model, data.channels, data.num_classes)
        if state is not None and not self.spec.protocol.reset_task_each_cycle:
            model.load_state_dict(state)
        model = model.to(self.device)
        if self.spec.runtime.channels_last:
            model = model.to(memory_format=torch.channels_last)
        return model

    def _carry_path(self, cycle: int) -> Path:
        return self.run_dir / f"state-{cycle}.pt"

    def _save_carry(self, cycle: int, model: torch.nn.Module, strategy) -> None:
        """State that the next cycle needs (warm-started model, stateful strategy), if any."""
        carry = {}
        if not self.spec.protocol.reset_task_each_cycle:
            carry["task_model"] = model.state_dict()
        if (s := strategy.state_dict()) is not None:
            carry["strategy"] = s
        if carry:
            atomic_torch_save(self._carry_path(cycle), carry)

    def _load_carry(self, cycle: int, strategy) -> dict | None:
        path = self._carry_path(cycle)
        if not path.exists():
            return None
        carry = torch.load(path, map_location="cpu", weights_only=False)
        if "strategy" in carry:
            strategy.load_state_dict(carry["strategy"])
        return carry.get("task_model")

    def _drop_carry(self, cycle: int) -> None:
        if cycle >= 0:
            self._carry_path(cycle).unlink(missing_ok=True)
