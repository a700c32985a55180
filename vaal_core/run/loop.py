"""The active-learning loop: train, evaluate, query, commit; resumable after any kill.

Every cycle draws its randomness from (seed, cycle, purpose) alone, so a resumed run repeats
exactly what an uninterrupted one would have done. What is written, in which order, and how it is
read back belongs to `RunDir`; this module only decides what a cycle computes.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from ..datasets import ImageData, check_dataset_name, check_dataset_options, dataset_task_kind
from ..failpoints import configure_from_env, failpoint
from ..models import TASK_MODELS, check_model_options, check_pretrained
from ..spec import (
    Spec,
    SpecError,
    check_pool_fits,
    initial_train_size,
    labeled_offset,
    resolved_val_size,
)
from ..strategies import (
    STRATEGIES,
    Strategy,
    check_owned_options,
    check_strategy_supports,
    make_strategy,
)
from ..tasks import TASKS, TaskKind, get_task
from ..train.batches import batches_from_spec, data_from_spec
from ..train.device import check_precision, peak_memory_mb, resolve_device
from ..train.topline import topline_trainer
from ..train.trainer import (
    Batches,
    TrainStats,
    evaluate_detailed,
    fit_threshold,
    is_fit_ok,
    labeled_fit,
    train_for_spec,
)
from ..words import count
from . import tensorboard
from .pool import Pool, indices_sha1, initial_labeled, noisy_labels, split_indices, test_subset
from .round import Round, Stream
from .rundir import RunDir
from .runlog import CycleRecord, environment_record, git_revision


@dataclasses.dataclass
class _Run:
    """What every cycle of one run shares, prepared once (fresh start or resume)."""

    strategy: Strategy
    data: Any  # a DataSource, the test set already subset
    batches: Batches
    pool: Pool
    val: np.ndarray
    true_labels: np.ndarray  # the oracle's truth (a noisy oracle flips copies of them)
    start: int  # the first cycle still to run
    records: list[dict[str, Any]]
    run_id: str
    git_rev: str
    paid: int  # validation labels counted in n_labeled (protocol.val_counts_against_budget)
    model_state: dict[str, Any] | None = None  # warm start (protocol.reset_task_each_cycle off)
    noisy_upto: np.ndarray | None = None  # noisy oracle: the labeled set its noise covers


@dataclasses.dataclass
class _Outcome:
    """One cycle's results, gathered for its record."""

    labeled: np.ndarray
    flipped: list[int] | None = None
    result: Any = None  # trainer.Evaluation
    health: dict[str, Any] = dataclasses.field(default_factory=dict)
    train_s: float = 0.0
    selected: np.ndarray | None = None
    query_s: float = 0.0
    stats: dict[str, Any] = dataclasses.field(default_factory=dict)


def run_dir_for(out: Path, spec: Spec, strategy: str, seed: int) -> Path:
    return Path(out) / spec.experiment / strategy / f"seed-{seed}"


def check_image_level_ablations(spec: Spec, kind: TaskKind) -> None:
    """Ablations defined by image-level classes have no meaning for a kind without them."""
    p = spec.protocol
    for key, value, default in (
        ("protocol.label_noise", p.label_noise, 0.0),
        ("protocol.initial_classes", p.initial_classes, ()),
    ):
        if value != default and not kind.image_labels:
            raise SpecError(
                f"spec key '{key}' is {value!r}, but it flips or filters image-level classes and "
                f"task.kind {kind.name} has no class per image; remove it"
            )


def preflight(spec: Spec, strategy: str) -> None:
    """Every name in the spec resolves, before data is read or compute is spent."""
    kind = spec.task.kind
    try:
        task_kind = get_task(kind)  # loads the plug-ins for a kind the engine lacks
    except SpecError:
        raise SpecError(
            f"spec key 'task.kind' is '{kind}'; valid names: {', '.join(TASKS.names())}"
        ) from None
    check_image_level_ablations(spec, task_kind)
    check_strategy_supports(strategy, kind)
    check_owned_options(spec)
    check_dataset_name(spec.dataset.name)
    check_dataset_options(spec.dataset)
    if dataset_task_kind(spec.dataset.name) != kind:
        raise SpecError(
            f"spec key 'task.kind' is '{kind}', but dataset '{spec.dataset.name}' is a "
            f"{dataset_task_kind(spec.dataset.name)} dataset; set task.kind to match it"
        )
    try:
        TASK_MODELS.get(spec.task.model)  # loads the plug-ins for a name the engine lacks
    except ValueError:
        raise SpecError(
            f"spec key 'task.model' is '{spec.task.model}'; valid names: {', '.join(TASK_MODELS.names())}"
        ) from None
    check_model_options(spec.task.model, spec.task.model_width)
    check_pretrained(spec.task.model, spec.task.pretrained)


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
        wait: bool = False,
        train_fn: Callable[..., tuple[torch.nn.Module, TrainStats]] = train_for_spec,
        env_extra: dict[str, Any] | None = None,
    ):
        """`wait`: wait for another process holding the run directory instead of failing.
        `train_fn`: the task-model trainer (the distributed run passes its own, with
        `train_for_spec`'s signature). `env_extra`: more facts for env.json (e.g. world size).
        """
        configure_from_env()
        preflight(spec, strategy)
        if STRATEGIES[strategy].whole_pool:  # the top-line: one cycle on every candidate
            train_fn = topline_trainer(spec, train_fn)  # as long as task.topline says
            spec = dataclasses.replace(spec, active=dataclasses.replace(spec.active, cycles=1))
        self.spec, self.strategy_name, self.seed = spec, strategy, seed
        self.run_dir = RunDir(run_dir_for(Path(out), spec, strategy, seed))
        self.data_root, self.progress, self._data, self.wait = data_root, progress, data, wait
        self.train_fn, self.env_extra = train_fn, env_extra or {}
        if getattr(train_fn, "__wrapped__", train_fn) is not train_for_spec and (
            spec.quirks.trainer_names
        ):
            raise SpecError(
                f"spec key 'protocol.quirks' holds {spec.quirks.trainer_names}, which only the "
                "single-process trainer reproduces; run with one task per node"
            )
        self.device = resolve_device(spec.runtime.device)
        check_precision(spec.runtime.precision, self.device)

    def run(self) -> list[dict[str, Any]]:
        """Run (or resume, or extend) this run to `active.cycles`; returns all its records."""
        if not self.run_dir.path.exists():
            # a new run: the checks that need the data (the pool's size) come before anything is
            # written; the data read here is the run's own
            self._data = self._data or data_from_spec(self.spec, self.data_root, self.progress)
            data, candidates, val = self._data_and_splits()
            if not STRATEGIES[self.strategy_name].whole_pool:
                self._check_initial_classes(data, candidates, val)
        with self.run_dir.locked(self.wait):
            return self._run()

    def _run(self) -> list[dict[str, Any]]:
        records = self.run_dir.claim(self.spec, self.strategy_name, self.seed)
        if len(records) >= self.spec.active.cycles:
            tqdm.write(
                f"{self.run_dir.path}: complete ({count(len(records), 'cycle')}), nothing to do"
            )
            return records
        run = self._prepare(records)
        with tensorboard.run_log(self.run_dir.path, run.start, run.records):  # off by default
            for cycle in tqdm(
                range(run.start, self.spec.active.cycles),
                initial=run.start,
                total=self.spec.active.cycles,
                disable=not self.progress,
                desc=f"{self.strategy_name} seed {self.seed}",
            ):
                self._cycle(run, cycle)
        return run.records

    def _cycle(self, run: _Run, cycle: int) -> None:
        """One cycle: train -> evaluate -> query -> commit."""
        out = _Outcome(labeled=run.pool.labeled)
        model = self._train_and_evaluate(run, cycle, out)
        if cycle < self.spec.active.cycles - 1:  # the last cycle trains and evaluates only
            self._query_and_label(run, cycle, model, out)
        self._commit(run, cycle, model, out)
        if not self.spec.protocol.reset_task_each_cycle:
            run.model_state = model.state_dict()

    def _train_and_evaluate(self, run: _Run, cycle: int, out: _Outcome) -> torch.nn.Module:
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        out.flipped = self._noisy_oracle(run, cycle, out.labeled)
        t0 = time.perf_counter()
        model, train_stats = self._train(cycle, run.batches, out.labeled, run.val, run.model_state)
        out.result = evaluate_detailed(model, run.batches, self.spec.task, self.spec.runtime)
        out.health = self._health(cycle, model, run.batches, out.labeled, train_stats)
        out.train_s = time.perf_counter() - t0
        failpoint("after_train", cycle)
        return model

    def _query_and_label(self, run: _Run, cycle: int, model, out: _Outcome) -> None:
        t1 = time.perf_counter()
        out.selected, out.stats = self._query(cycle, run.strategy, run.pool, model, run.batches)
        out.query_s = time.perf_counter() - t1
        failpoint("after_query", cycle)
        run.pool.label(out.selected)  # raises on duplicate or already-labeled indices

    def _commit(self, run: _Run, cycle: int, model, out: _Outcome) -> None:
        """Write the cycle's record, next labeled set and carried state (RunDir's order)."""
        rec = self._record(run, cycle, out)
        last = out.selected is None
        self.run_dir.commit(
            rec.as_record(),
            next_labeled=None if last else run.pool.labeled,
            carry=None if last else self._carry(model, run.strategy),
        )
        run.records.append(rec.as_record())
        tensorboard.cycle_done(run.records[-1])
        self._print(rec, out)

    # ------------------------------------------------------------------ preparation and resume
    def _prepare(self, records: list[dict[str, Any]]) -> _Run:
        """Everything the cycles share: the strategy, data and splits, the labeled pool, and on a
        resume the carried state and the noisy oracle's labels, all read back before compute."""
        spec = self.spec
        strategy = make_strategy(self.strategy_name, spec)
        start, carry = len(records), None
        self.run_dir.check_no_lost_records(start)
        self.run_dir.drop_stale_states(start)
        if start:  # read back and check everything the resume needs, before any compute
            labeled = self.run_dir.resume_pool(records)
            if self._carries_state(strategy):
                carry = self.run_dir.load_state(start - 1)

        if spec.runtime.num_threads:
            torch.set_num_threads(spec.runtime.num_threads)
        data, candidates, val = self._data_and_splits()
        self.run_dir.ensure_env(
            environment_record(str(self.device))
            | {"val_size": len(val), "pool_size": len(candidates), "test_size": len(data.test_y)}
            | self.env_extra,
            start,
        )
        true_labels = data.labels("train").cpu().numpy()
        if not start and strategy.whole_pool:
            labeled = self.run_dir.initial_pool(np.sort(candidates))
        elif not start:
            labeled = self.run_dir.initial_pool(
                self._initial_labeled(true_labels, data.num_classes, candidates, val)
            )
        model_state = None
        if carry is not None:
            if "strategy" in carry:
                strategy.load_state_dict(carry["strategy"])
            model_state = carry.get("task_model")

        run = _Run(
            strategy=strategy,
            data=data,
            val=val,
            true_labels=true_labels,
            pool=Pool(candidates, labeled),
            start=start,
            records=records,
            batches=batches_from_spec(spec, data, self.device),  # the factory every DDP rank calls
            run_id=records[0]["run_id"] if records else uuid.uuid4().hex[:12],
            git_rev=git_revision(),
            model_state=model_state,
            paid=labeled_offset(spec, len(val)),  # validation labels paid from the budget, if so
        )
        if spec.protocol.label_noise > 0:  # the noisy oracle: replay every committed cycle's noise
            run.batches.train_labels = run.batches.data.labels("train").clone()
            run.noisy_upto = np.empty(0, np.int64)
            for c in range(start):
                now = self.run_dir.load_pool(c)
                self._label_with_noise(
                    run.batches, c, np.setdiff1d(now, run.noisy_upto), true_labels
                )
                run.noisy_upto = now
        return run

    # ------------------------------------------------------------------ the record
    def _record(self, run: _Run, cycle: int, out: _Outcome) -> CycleRecord:
        spec, labeled, selected = self.spec, out.labeled, out.selected
        n_labeled = run.paid + len(labeled)
        return CycleRecord(
            run_id=run.run_id,
            experiment=spec.experiment,
            dataset=spec.dataset.name,
            strategy=self.strategy_name,
            protocol=spec.protocol.name,
            seed=self.seed,
            spec_hash=spec.hash(),
            git_rev=run.git_rev,
            cycle=cycle,
            n_labeled=n_labeled,
            fraction=n_labeled / (run.paid + len(run.pool)),
            metric=out.result.metric,
            value=out.result.value,
            train_s=round(out.train_s, 3),
            query_s=round(out.query_s, 3),
            peak_mem_mb=round(peak_memory_mb(self.device), 1),
            labeled_sha1=indices_sha1(labeled),
            n_selected=0 if selected is None else len(selected),
            selected_sha1=None if selected is None else indices_sha1(selected),
            precision=spec.runtime.precision,
            device=str(self.device),
            query_stats=out.stats,
            selected_classes=None
            if selected is None
            else run.batches.kind.selected_histogram(
                run.true_labels, selected, run.data.num_classes
            ),
            label_noise_flipped=out.flipped,
            per_class_iou=out.result.per_class_iou,
            quirks=list(spec.protocol.quirks) or None,
            **out.health,
        )

    def _print(self, rec: CycleRecord, out: _Outcome) -> None:
        """One line per cycle, metrics in percent as every table shows them (records keep the
        fractions)."""
        val_note = f" val={100 * rec.val_value:.2f}%" if rec.val_value is not None else ""
        if not rec.fit_ok:
            val_note += (
                f" UNHEALTHY: {rec.metric}={100 * rec.train_fit:.2f}% on its own labeled set, "
                f"{rec.nonfinite_losses} non-finite losses"
            )
        tqdm.write(
            f"[{self.spec.experiment} {self.strategy_name} seed {self.seed}] cycle {rec.cycle + 1}/"
            f"{self.spec.active.cycles} labeled={len(out.labeled)} ({100 * rec.fraction:.1f}%) "
            f"{rec.metric}={100 * rec.value:.2f}%{val_note} train {out.train_s:.1f}s "
            f"query {out.query_s:.1f}s"
        )

    # ------------------------------------------------------------------ one cycle
    def _round(self, cycle: int, batches: Batches) -> Round:
        return Round(self.spec, batches, self.seed, cycle, cycle, self.progress)

    def _train(self, cycle: int, batches: Batches, labeled: np.ndarray, val: np.ndarray, state):
        warm = state if not self.spec.protocol.reset_task_each_cycle else None
        with tensorboard.phase("train", cycle):
            return self._round(cycle, batches).train(
                labeled, state=warm, val=val, train_fn=self.train_fn
            )

    def _health(
        self, cycle: int, model, batches: Batches, labeled: np.ndarray, stats: TrainStats
    ) -> dict[str, Any]:
        """The record's training-health fields: did the task model fit its own labeled set?"""
        rng = self._round(cycle, batches).rng(Stream.FIT)
        fit, n = labeled_fit(model, batches, labeled, self.spec.task, self.spec.runtime, rng)
        threshold = fit_threshold(self.spec.task, batches.kind, self.spec.protocol.label_noise)
        loss = stats.train_loss
        return {
            # null when no step ran or every step of the last window was non-finite
            "train_loss": round(loss, 6) if loss is not None and np.isfinite(loss) else None,
            "train_fit": fit,
            "train_fit_n": n,
            "fit_ok": is_fit_ok(stats, fit, threshold),
            "nonfinite_losses": stats.nonfinite_losses,
            "val_value": stats.val_value,
        }

    def _query(self, cycle: int, strategy: Strategy, pool: Pool, model, batches: Batches):
        budget = min(self.spec.active.budget, len(pool.unlabeled))
        with tensorboard.phase("query", cycle):
            selection = self._round(cycle, batches).query(strategy, pool, model, budget)
        return selection.indices, selection.stats

    def _initial_labeled(
        self, true_labels: np.ndarray, num_classes: int, candidates: np.ndarray, val: np.ndarray
    ) -> np.ndarray:
        """The run's first labeled set: a function of (dataset, seed, spec) alone."""
        return initial_labeled(
            self.spec.dataset.name,
            candidates,
            initial_train_size(self.spec, len(val)),
            self.seed,
            self._initial_allowed(true_labels[candidates], num_classes),
        )

    def _check_initial_classes(self, data, candidates: np.ndarray, val: np.ndarray) -> None:
        """A classifier learns to tell classes apart: a first labeled set of one class cannot
        teach it (a biased pool of one class, or an initial set of one image). Refused before
        anything is written."""
        if not get_task(self.spec.task.kind).image_labels:
            return
        true_labels = data.labels("train").cpu().numpy()
        first = self._initial_labeled(true_labels, data.num_classes, candidates, val)
        classes = np.unique(true_labels[first])
        if len(first) and len(classes) < 2:
            raise SpecError(
                f"the first labeled set ({count(len(first), 'image')}) holds one class only "
                f"(class {int(classes[0])}); the task model ({self.spec.task.model}, a classifier) "
                "needs labeled images of at least two classes: raise active.initial, or give "
                "protocol.initial_classes at least two classes"
            )

    # ------------------------------------------------------------------ ablations
    def _initial_allowed(self, candidate_labels: np.ndarray, num_classes: int) -> np.ndarray | None:
        """Biased initial pool: a mask of the candidates whose class may start the run."""
        classes = self.spec.protocol.initial_classes
        if not classes:
            return None
        if max(classes) >= num_classes:
            raise SpecError(
                f"spec key 'protocol.initial_classes' holds class {max(classes)}, but dataset "
                f"'{self.spec.dataset.name}' has classes 0..{num_classes - 1}"
            )
        allowed = np.isin(candidate_labels, classes)
        if allowed.sum() < self.spec.active.initial:
            raise SpecError(
                f"spec key 'protocol.initial_classes' leaves {count(int(allowed.sum()), 'candidate')}, "
                "fewer "
                f"than active.initial ({self.spec.active.initial}); add classes or lower it"
            )
        return allowed

    def _noisy_oracle(self, run: _Run, cycle: int, labeled: np.ndarray) -> list[int] | None:
        """This cycle's newly labeled images, some given a wrong label (None: a truthful oracle)."""
        if run.noisy_upto is None:
            return None
        flipped = self._label_with_noise(
            run.batches, cycle, np.setdiff1d(labeled, run.noisy_upto), run.true_labels
        )
        run.noisy_upto = labeled
        return flipped

    def _label_with_noise(self, batches: Batches, cycle: int, new: np.ndarray, true_labels):
        """Noisy oracle: give some of this cycle's newly labeled images a wrong label."""
        flipped, wrong = noisy_labels(
            self.spec.dataset.name,
            self.seed,
            cycle,
            new,
            true_labels,
            self.spec.protocol.label_noise,
            batches.num_classes,
        )
        if len(flipped):
            batches.train_labels[torch.as_tensor(flipped)] = torch.as_tensor(wrong).to(
                batches.train_labels.device
            )
        return flipped.tolist()

    # ------------------------------------------------------------------ data
    def _data_and_splits(self) -> tuple[ImageData, np.ndarray, np.ndarray]:
        spec = self.spec
        data = self._data or data_from_spec(spec, self.data_root, self.progress)
        candidates, val = split_indices(
            spec.dataset.name,
            len(data.train_y),
            spec.dataset.pool_size,
            spec.dataset.pool_seed,
            resolved_val_size(spec, len(data.train_y)),
            self.seed,
        )
        check_pool_fits(spec, len(candidates))
        test_idx = test_subset(spec.dataset.name, len(data.test_y), spec.dataset.test_size)
        return data.with_test_subset(test_idx), candidates, val

    # ------------------------------------------------------------------ carried state
    def _carries_state(self, strategy: Strategy) -> bool:
        return not self.spec.protocol.reset_task_each_cycle or strategy.carries_state

    def _carry(self, model: torch.nn.Module, strategy: Strategy) -> dict[str, Any] | None:
        """What the next cycle needs from this one (warm-started model, stateful strategy)."""
        carry = {}
        if not self.spec.protocol.reset_task_each_cycle:
            carry["task_model"] = model.state_dict()
        if strategy.carries_state and (s := strategy.state_dict()) is not None:
            carry["strategy"] = s
        return carry or None
