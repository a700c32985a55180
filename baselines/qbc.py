"""Query by committee (Seung, Opper & Sompolinsky, COLT 1992) with an MC-dropout committee
(Gal & Ghahramani, ICML 2016): the T stochastic passes of the task model vote per pixel, and an
image's score is the vote entropy (Dagan & Engelson, ICML 1995) averaged over its valid pixels.

Disagreement, not confidence: a pixel every member labels the same scores 0 however flat each
member's softmax is. Shares its T passes with `mc_dropout` (one computation per cycle).
"""

from __future__ import annotations

import numpy as np

from vaal_core.strategies import QueryContext, Strategy, register_strategy

from .mc_dropout import MCOptions
from .scores import top_k


@register_strategy("qbc")
class QBCStrategy(Strategy):
    task_kinds = frozenset({"segmentation"})
    options_type = MCOptions

    def select(self, ctx: QueryContext, budget: int) -> np.ndarray:
        unlabeled = ctx.pool.unlabeled
        mc = ctx.mc_summary(unlabeled, self.options.mc_samples)
        ctx.stats["mc_samples"] = mc.samples
        return unlabeled[top_k(mc.vote_entropy, budget, ctx.rng)]
