"""Query by committee (Seung, Opper & Sompolinsky, COLT 1992) with an MC-dropout committee
(Gal & Ghahramani, ICML 2016): the T stochastic passes of the task model vote per pixel, and an
image's score is the vote entropy (Dagan & Engelson, ICML 1995) averaged over its valid pixels.

Disagreement, not confidence: a pixel every member labels the same scores 0 however flat each
member's softmax is. Shares its T passes with `mc_dropout` (one computation per cycle).
"""

from __future__ import annotations

from vaal_core.strategies import Picks, QueryContext, ScoreKind, Strategy, register_strategy

from .mc_dropout import MCOptions
from .scores import pick_top


@register_strategy("qbc")
class QBCStrategy(Strategy):
    task_kinds = frozenset({"segmentation"})
    options_type = MCOptions
    score = ScoreKind(
        "vote_entropy_nats",
        "entropy of the MC-dropout committee's votes per pixel, in nats, averaged over an "
        "image's valid pixels",
        higher_first=True,
    )

    def select(self, ctx: QueryContext, budget: int) -> Picks:
        unlabeled = ctx.pool.unlabeled
        mc = ctx.mc_summary(unlabeled, self.options.mc_samples)
        ctx.stats["mc_samples"] = mc.samples
        return pick_top(unlabeled, mc.vote_entropy, budget, ctx.rng)
