"""The strategy contract: what a strategy is (`Strategy`), what it answers (`Picks`, and after
the shared checks a `Selection`), what its scores mean (`ScoreKind`), and the checks every answer
passes. A strategy reads the round through a `QueryContext` (context.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import StrategyError
from ..run.pool import Pool
from ..spec import Spec, SpecError
from ..train.device import peak_memory_mb
from ..words import count
from .context import QueryContext

# `task_kinds` of a strategy that never reads the task model's outputs: every kind, plug-ins' too
ANY_KIND = frozenset({"*"})


@dataclass(frozen=True)
class ScoreKind:
    """What a strategy's per-image score means, so any caller can rank and explain its picks."""

    column: str  # a short name for tables and CSV columns, e.g. "entropy_nats"
    meaning: str  # one sentence a user reads, units included
    higher_first: bool  # True: the strategy picks the highest scores first


@dataclass(frozen=True)
class Picks:
    """What `Strategy.select` returns: training-set indices and, where the strategy has one,
    each pick's score (`scores[i]` belongs to `indices[i]`)."""

    indices: np.ndarray
    scores: np.ndarray | None = None


@dataclass
class Selection:
    """A checked query's answer: the picks (sorted), their scores in the same order, the meaning
    of the scores (None: the strategy has none, e.g. random) and what the query reported."""

    indices: np.ndarray
    scores: np.ndarray | None
    score: ScoreKind | None
    stats: dict[str, Any]

    def __len__(self) -> int:
        return len(self.indices)

    def label_order(self) -> np.ndarray:
        """Positions into `indices` in the order to label them: the strategy's best score first,
        ties (and a strategy without scores) by index, the same order every time."""
        if self.scores is None or self.score is None:
            return np.arange(len(self.indices))
        key = -self.scores if self.score.higher_first else self.scores
        return np.lexsort((self.indices, key))


def check_budget(
    budget: int,
    n_unlabeled: int,
    name: str = "query budget",
    fix: str = "lower active.budget or active.cycles",
) -> None:
    """The one rule for budgets: 0 <= budget <= unlabeled images (the loop clips the last query).
    `name` and `fix` are the caller's words: a run's spec keys, or the Python API's arguments."""
    if budget < 0:
        raise SpecError(f"{name} must be >= 0, got {budget}")
    if budget > n_unlabeled:
        raise SpecError(
            f"{name} {budget} is larger than the {count(n_unlabeled, 'unlabeled image')} left in "
            f"the pool; {fix}"
        )


def check_selection(selected: np.ndarray, pool: Pool, budget: int, strategy: str) -> np.ndarray:
    """Exactly `budget` distinct unlabeled pool indices, or one StrategyError naming the strategy and the fault (the CLI prints it as one line)."""
    sel = np.asarray(selected)
    if sel.ndim != 1 or (sel.size and not np.issubdtype(sel.dtype, np.integer)):
        raise StrategyError(f"strategy '{strategy}' returned {sel.dtype} {sel.shape}, not 1-d ints")
    sel = sel.astype(np.int64)
    if len(sel) != budget:
        raise StrategyError(
            f"strategy '{strategy}' returned {count(len(sel), 'index')} for a budget of {budget}; "
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
    # `<options_section>.<option_prefix><field>` (or a field's metadata `key`, for a knob
    # strategies share), its defaults the spec's; it checks its own values in
    # `__post_init__` (raising SpecError). The strategy reads them as `self.options`.
    options_type: type | None = None
    option_prefix: str = ""
    # the spec section its keys live in: `baselines` (shared by the plug-ins), or a top-level
    # section of its own (VAAL: `vaal`), kept as written by the loader like `baselines`
    options_section: str = "baselines"
    # what the per-image scores `select` returns with its picks mean (None: it has none)
    score: ScoreKind | None = None

    def __init__(self, spec: Spec):
        self.spec = spec
        self.options = strategy_options(type(self), spec)

    def select(self, ctx: QueryContext, budget: int) -> Picks | np.ndarray:
        """`budget` distinct unlabeled indices, as `Picks` with their scores where the strategy
        declares a `score` (a plain array: picks without scores)."""
        raise NotImplementedError

    @property
    def carries_state(self) -> bool:
        """Whether `state_dict` must survive to the next cycle (and so through a resume)."""
        return False

    def query(self, ctx: QueryContext, budget: int) -> Selection:
        """`select` behind the shared checks; records the query's memory in `ctx.stats`."""
        check_budget(budget, len(ctx.pool.unlabeled))
        if budget == 0:
            return Selection(np.empty(0, dtype=np.int64), None, self.score, ctx.stats)
        before = peak_memory_mb(ctx.device)
        picks = self.select(ctx, budget)
        if not isinstance(picks, Picks):
            picks = Picks(np.asarray(picks))
        selected = check_selection(picks.indices, ctx.pool, budget, self.name)
        after = peak_memory_mb(ctx.device)
        ctx.stats["forward_passes"] = ctx.forward_passes
        ctx.stats["peak_mem_mb"] = round(after, 1)
        # how far the query raised the process's high-water mark (0: it fit under training's)
        ctx.stats["peak_mem_growth_mb"] = round(max(0.0, after - before), 1)
        order = np.argsort(selected, kind="stable")
        scores = None
        if picks.scores is not None and self.score is not None:
            scores = np.asarray(picks.scores, dtype=np.float64).reshape(-1)
            if len(scores) != len(selected):
                raise StrategyError(
                    f"strategy '{self.name}' returned {count(len(scores), 'score')} for "
                    f"{count(len(selected), 'pick')}"
                )
            scores = scores[order]
        return Selection(selected[order], scores, self.score, ctx.stats)

    def state_dict(self) -> dict[str, Any] | None:
        """State that must survive to the next cycle (None: the strategy is stateless)."""
        return None

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


def strategy_options(cls: type[Strategy], spec: Spec) -> Any:
    """`cls`'s own options from the spec (None for a strategy without knobs of its own)."""
    if cls.options_type is None:
        return None
    return spec.options(cls.options_type, cls.options_section, cls.option_prefix)


def check_at_least(key: str, value: float, low: float, why: str) -> None:
    """An option's lower bound, as one SpecError naming the spec key (for `__post_init__`)."""
    if value < low:
        raise SpecError(f"spec key 'baselines.{key}' must be >= {low} ({why}), got {value}")


def supports(cls: type[Strategy], kind: str) -> bool:
    return kind in cls.task_kinds or ANY_KIND <= cls.task_kinds
