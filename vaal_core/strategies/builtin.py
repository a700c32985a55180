"""The two strategies every experiment needs, kept in the engine: random sampling and the
whole-pool top-line."""

from __future__ import annotations

import numpy as np

from .context import QueryContext
from .contract import ANY_KIND, Strategy
from .registry import register_strategy


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
