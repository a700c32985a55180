"""Bayesian uncertainty from MC-dropout samples: max-entropy and BALD (Gal, Islam & Ghahramani,
"Deep Bayesian Active Learning with Image Data", ICML 2017).

Both read one shared summary of T = `baselines.mc_samples` stochastic passes (eval mode except the
Dropout layers; `QueryContext.mc_summary`, computed by the task kind), so
running both costs one set of passes.
"""

from __future__ import annotations

from dataclasses import dataclass

from vaal_core.strategies import Picks, QueryContext, ScoreKind, Strategy, register_strategy
from vaal_core.strategies.contract import check_at_least

from .scores import bald_score, pick_top


@dataclass(frozen=True)
class MCOptions:
    """T, the stochastic passes every MC-dropout strategy of a cycle shares (one set of passes)."""

    mc_samples: int = 25  # Gal, Islam & Ghahramani (ICML 2017) used T = 20; 25 is this suite's

    def __post_init__(self) -> None:
        check_at_least(
            "mc_samples",
            self.mc_samples,
            2,
            "BALD and the MC mean need at least two stochastic passes",
        )


@register_strategy("mc_dropout")
class MCDropoutStrategy(Strategy):
    """Max entropy of the mean MC-dropout prediction (Gal, Islam & Ghahramani, ICML 2017).

    Segmentation: the entropy of the mean is taken per pixel and averaged over an image's
    valid pixels (vaal_core/tasks/segmentation.py says which pixels count)."""

    options_type = MCOptions
    task_kinds = frozenset({"classification", "segmentation"})
    score = ScoreKind(
        "mc_entropy_nats",
        "entropy of the mean of the MC-dropout predictions, in nats (segmentation: averaged "
        "over an image's valid pixels)",
        higher_first=True,
    )

    def select(self, ctx: QueryContext, budget: int) -> Picks:
        unlabeled = ctx.pool.unlabeled
        scores, samples = ctx.image_mc_entropy(unlabeled, self.options.mc_samples)
        ctx.stats["mc_samples"] = samples
        return pick_top(unlabeled, scores, budget, ctx.rng)


@register_strategy("dbal")
class DBALStrategy(Strategy):
    """BALD mutual information between prediction and weights from MC-dropout samples
    (Houlsby et al., arXiv 2011; Gal, Islam & Ghahramani, ICML 2017).

    Which acquisition the VAAL paper's "DBAL" baseline used (BALD or max entropy over MC-dropout)
    is unverified here: its Sec. 4 text could not be read (README, "The paper's text"). The
    max-entropy reading is `mc_dropout`'s score, so both readings can be run without a new option."""

    options_type = MCOptions
    score = ScoreKind(
        "bald_nats",
        "BALD: mutual information between the prediction and the weights under MC dropout, in nats",
        higher_first=True,
    )

    def select(self, ctx: QueryContext, budget: int) -> Picks:
        unlabeled = ctx.pool.unlabeled
        mc = ctx.mc_summary(unlabeled, self.options.mc_samples)
        ctx.stats["mc_samples"] = mc.samples
        return pick_top(unlabeled, bald_score(mc.mean, mc.expected_entropy), budget, ctx.rng)
