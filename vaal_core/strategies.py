"""The query-strategy interface and its registry.

A strategy sees a `QueryContext` (pool, trained task model, un-augmented data, device, seeded
generators) and returns training-set indices to label. Strategies register by name so specs and
the command line refer to them as strings; the loop never knows which one it runs.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from .batches import Batches
from .device import peak_memory_mb
from .errors import StrategyError
from .passes import PassOptions
from .plugins import load_plugins
from .pool import Pool
from .registry import Registry
from .spec import Spec, SpecError, option_key
from .tasks import MCSummary, TaskKind

# `task_kinds` of a strategy that never reads the task model's outputs: every kind, plug-ins' too
ANY_KIND = frozenset({"*"})


@dataclass
class QueryContext:
    spec: Spec
    pool: Pool
    task_model: nn.Module
    batches: Batches
    rng: np.random.Generator
    generator: torch.Generator
    cycle: int
    progress: bool = True
    # what the strategy wants in the cycle record (extra training seconds, diagnostics, ...);
    # JSON-serialisable values only. The loop writes it as the record's `query_stats`.
    stats: dict[str, Any] = field(default_factory=dict)
    # passes of the task model over an index set so far (each cache miss is one pass)
    forward_passes: int = 0
    _cache: dict[tuple, Any] = field(default_factory=dict)

    @property
    def device(self) -> torch.device:
        return self.batches.device

    def derived_seed(self, *purpose: int) -> int:
        """A seed that is a function of this cycle's query stream and `purpose` only.

        It does not consume `generator`, so helpers give the same answer whatever order
        strategies call them in.
        """
        keys = [self.generator.initial_seed(), *purpose]
        return int(np.random.SeedSequence(keys).generate_state(1)[0])

    @property
    def kind(self) -> TaskKind:
        """The task kind of the data: it owns every pass over the pool (tasks/<kind>.py)."""
        return self.batches.kind

    @staticmethod
    def _key(name: str, idx: np.ndarray, *extra: Any) -> tuple:
        idx = np.ascontiguousarray(idx, dtype=np.int64)
        return (name, len(idx), hashlib.sha1(idx.tobytes()).hexdigest(), *extra)

    def memo(
        self, name: str, idx: np.ndarray, compute: Callable[[], Any], *extra: Any, passes: int = 1
    ) -> Any:
        """This cycle's `name` of images `idx` (and `extra`), computed once; `passes`: the
        forward passes of the task model one computation costs (counted in the record)."""
        key = self._key(name, idx, *extra)
        if key not in self._cache:
            self._cache[key] = compute()
            self.forward_passes += passes
        return self._cache[key]

    def provide(self, name: str, idx: np.ndarray, value: Any, *extra: Any) -> None:
        """A value computed alongside another (or given by a benchmark): kept unless present."""
        self._cache.setdefault(self._key(name, idx, *extra), value)

    # ------------------------------------------------------------------ what a strategy may ask
    # The task kind computes each answer (its `Inference` methods); the context caches it for
    # the cycle and counts the forward passes it cost.
    @property
    def pass_options(self) -> PassOptions:
        return PassOptions(self.spec.task.eval_batch_size, self.spec.runtime)

    def logits(self, idx: np.ndarray) -> torch.Tensor:
        """Logits [N, C] of the task model on images `idx` (eval mode, no augmentation)."""
        return self.memo(
            "logits",
            idx,
            lambda: self.kind.logits(self.task_model, self.batches, idx, self.pass_options),
        )

    def probabilities(self, idx: np.ndarray) -> torch.Tensor:
        """Softmax of the task model on images `idx` (eval mode, no augmentation), cached per cycle."""
        return self.memo("probs", idx, lambda: self.logits(idx).softmax(1), passes=0)

    def embeddings(self, idx: np.ndarray) -> torch.Tensor:
        """One feature vector [N, d] per image, as the task kind defines it: the penultimate
        layer (classification) or the global-average-pooled last feature map (segmentation).
        Where the kind's pass also gives logits, a later `probabilities(idx)` costs no pass."""

        def compute() -> torch.Tensor:
            out = self.kind.embeddings(self.task_model, self.batches, idx, self.pass_options)
            if out.logits is not None:
                self.provide("logits", idx, out.logits)
            return out.features

        return self.memo("embeddings", idx, compute)

    def score_mask(self) -> Any:
        """The kind's mask of what counts in an image's score, from this cycle's labeled set."""
        labeled = self.pool.labeled
        return self.memo(
            "mask",
            labeled,
            lambda: self.kind.score_mask(self.batches, labeled, self.pass_options),
            passes=0,
        )

    def mc_summary(self, idx: np.ndarray, samples: int) -> MCSummary:
        """T = `samples` MC-dropout passes over images `idx`, summarised per image by the task
        kind, seeded from this cycle's query stream and T alone: every strategy reading them
        (in any order) sees the same samples, and a cycle pays for them once."""
        seed = self.derived_seed(_MC_PURPOSE, samples)

        def compute() -> MCSummary:
            mask = self.score_mask()
            return self.kind.mc_summary(
                self.task_model, self.batches, idx, self.pass_options, samples, seed, mask
            )

        return self.memo("mc", idx, compute, samples, passes=samples)

    def image_mc_entropy(self, idx: np.ndarray, samples: int) -> tuple[torch.Tensor, int]:
        """(per-image entropy of the mean of `samples` MC-dropout predictions [N], T): per image,
        or averaged over an image's valid pixels, as the task kind defines it."""
        mc = self.mc_summary(idx, samples)
        return mc.entropy, mc.samples

    def ensemble_variance(self, members: list[nn.Module], idx: np.ndarray) -> torch.Tensor:
        """[N] the members' disagreement on images `idx` (one pass per member, not cached)."""
        self.forward_passes += len(members)
        mask = self.score_mask()
        return self.kind.ensemble_variance(members, self.batches, idx, self.pass_options, mask)


# purpose of the MC-dropout passes' seed within a cycle's query stream
_MC_PURPOSE = 1


def check_budget(budget: int, n_unlabeled: int) -> None:
    """The one rule for budgets: 0 <= budget <= unlabeled images (the loop clips the last query)."""
    if budget < 0:
        raise SpecError(f"query budget must be >= 0, got {budget}")
    if budget > n_unlabeled:
        raise SpecError(
            f"query budget {budget} is larger than the {n_unlabeled} unlabeled images left in the "
            "pool; lower active.budget or active.cycles"
        )


def check_selection(selected: np.ndarray, pool: Pool, budget: int, strategy: str) -> np.ndarray:
    """Exactly `budget` distinct unlabeled pool indices, or one StrategyError naming the strategy and the fault (the CLI prints it as one line)."""
    sel = np.asarray(selected)
    if sel.ndim != 1 or (sel.size and not np.issubdtype(sel.dtype, np.integer)):
        raise StrategyError(f"strategy '{strategy}' returned {sel.dtype} {sel.shape}, not 1-d ints")
    sel = sel.astype(np.int64)
    if len(sel) != budget:
        raise StrategyError(
            f"strategy '{strategy}' returned {len(sel)} indices for a budget of {budget}; "
            "select(ctx, budget) must return exactly `budget` distinct unlabeled indices"
        )
    if len(np.unique(sel)) != len(sel):
        raise StrategyError(f"strategy '{strategy}' returned duplicate indices")
    bad = sel[~np.isin(sel, pool.unlabeled)]
    if len(bad):
        where = "labeled" if np.isin(bad, pool.labeled).all() else "labeled or outside the pool"
        raise StrategyError(
            f"strategy '{strategy}' returned indices that are {where}: {bad[:5].tolist()}"
        )
    return sel


class Strategy:
    """Base class: subclasses implement `select`; stateful ones also override the state methods.

    `task_kinds` says which tasks it can score. Callers use `query`, which checks the budget
    before any compute and the selection after it. What a strategy reads (probabilities,
    embeddings, MC passes) it asks of the context when it needs it; the context computes each
    once per cycle.
    """

    name: str = ""
    # how figures and reports name and colour it (analysis/style.py keeps the paper's names for
    # the built-in strategies; a plug-in sets its own here, else its registered name is shown)
    display_name: str = ""
    color: str | None = None
    task_kinds: frozenset[str] = frozenset({"classification"})  # or ANY_KIND
    # a run that labels the whole candidate pool at once and trains one cycle (the top-line)
    whole_pool: bool = False
    # the knobs this strategy owns: a frozen dataclass whose fields are the spec keys
    # `baselines.<option_prefix><field>` (or a field's metadata `key`, for a knob strategies
    # share), its defaults the spec's; it checks its own values in
    # `__post_init__` (raising SpecError). The strategy reads them as `self.options`.
    options_type: type | None = None
    option_prefix: str = ""

    def __init__(self, spec: Spec):
        self.spec = spec
        self.options = strategy_options(type(self), spec)

    def select(self, ctx: QueryContext, budget: int) -> np.ndarray:
        raise NotImplementedError

    @property
    def carries_state(self) -> bool:
        """Whether `state_dict` must survive to the next cycle (and so through a resume)."""
        return False

    def query(self, ctx: QueryContext, budget: int) -> np.ndarray:
        """`select` behind the shared checks; records the query's memory in `ctx.stats`."""
        check_budget(budget, len(ctx.pool.unlabeled))
        if budget == 0:
            return np.empty(0, dtype=np.int64)
        before = peak_memory_mb(ctx.device)
        selected = check_selection(self.select(ctx, budget), ctx.pool, budget, self.name)
        after = peak_memory_mb(ctx.device)
        ctx.stats["forward_passes"] = ctx.forward_passes
        ctx.stats["peak_mem_mb"] = round(after, 1)
        # how far the query raised the process's high-water mark (0: it fit under training's)
        ctx.stats["peak_mem_growth_mb"] = round(max(0.0, after - before), 1)
        return np.sort(selected)

    def state_dict(self) -> dict[str, Any] | None:
        """State that must survive to the next cycle (None: the strategy is stateless)."""
        return None

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


STRATEGIES: Registry[type[Strategy]] = Registry("strategy", SpecError)


def register_strategy(name: str) -> Callable[[type[Strategy]], type[Strategy]]:
    def deco(cls: type[Strategy]) -> type[Strategy]:
        cls.name = name
        return STRATEGIES.add(name, cls)

    return deco


def check_strategy_name(name: str) -> None:
    load_plugins()  # VAAL itself and every plug-in (baselines) register on import
    STRATEGIES.get(name)


def strategy_options(cls: type[Strategy], spec: Spec) -> Any:
    """`cls`'s own options from the spec (None for a strategy without knobs of its own)."""
    if cls.options_type is None:
        return None
    return spec.baselines.options(cls.options_type, cls.option_prefix)


def check_at_least(key: str, value: float, low: float, why: str) -> None:
    """An option's lower bound, as one SpecError naming the spec key (for `__post_init__`)."""
    if value < low:
        raise SpecError(f"spec key 'baselines.{key}' must be >= {low} ({why}), got {value}")


def check_owned_options(spec: Spec) -> None:
    """Every key of the spec's `baselines` section belongs to a registered strategy, and every
    registered strategy's options accept the spec's values: a SpecError before any compute,
    whichever strategy runs. A key several strategies share (`mc_samples`) has one default."""
    load_plugins()
    owners: dict[str, list[type[Strategy]]] = {}
    for cls in STRATEGIES.values():
        for f in dataclasses.fields(cls.options_type) if cls.options_type is not None else ():
            owners.setdefault(option_key(f, cls.option_prefix), []).append(cls)
    for key, _ in spec.baselines.owned:
        if key not in owners:
            raise SpecError(
                f"unknown spec key 'baselines.{key}'; valid keys: {', '.join(sorted(owners))}"
            )
    for cls in {c for classes in owners.values() for c in classes}:
        strategy_options(cls, spec)


def supports(cls: type[Strategy], kind: str) -> bool:
    return kind in cls.task_kinds or ANY_KIND <= cls.task_kinds


def check_strategy_supports(name: str, kind: str) -> None:
    """An unsupported (strategy, task kind) pairing is a spec error, raised before any compute.

    The loop's preflight calls it for every (strategy, spec) it is about to run.
    """
    check_strategy_name(name)
    cls = STRATEGIES[name]
    if not supports(cls, kind):
        able = sorted(n for n, c in STRATEGIES.items() if supports(c, kind))
        raise SpecError(
            f"strategy '{name}' does not support {kind} tasks (it supports "
            f"{', '.join(sorted(cls.task_kinds))}); strategies for {kind}: {', '.join(able) or 'none'}"
        )


def make_strategy(name: str, spec: Spec) -> Strategy:
    """The strategy `name` with its options from `spec`; the name and its pairing with the task
    kind were checked once, at preflight (`vaal_core.loop.preflight`)."""
    return STRATEGIES[name](spec)


@register_strategy("random")
class RandomStrategy(Strategy):
    """Uniform sampling without replacement from the unlabeled pool: the paper's baseline.

    The one random strategy of the suite (kept here because every experiment needs it).
    """

    task_kinds = ANY_KIND  # never looks at the model

    def select(self, ctx: QueryContext, budget: int) -> np.ndarray:
        return np.sort(ctx.rng.choice(ctx.pool.unlabeled, size=budget, replace=False))


@register_strategy("full")
class FullPool(Strategy):
    """Not a query strategy: the task model trained once on the whole candidate pool, per seed.

    The paper's figures draw this "top-line" (the accuracy with 100% of the data) as a dashed
    line; the run has one cycle, labeled set = every candidate, the spec's own task recipe.
    """

    task_kinds = ANY_KIND  # trains the kind's own model on everything
    whole_pool = True

    def select(self, ctx: QueryContext, budget: int) -> np.ndarray:
        raise RuntimeError("strategy 'full' labels the whole pool at the start and never queries")
