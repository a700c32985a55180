"""Single-pass uncertainty sampling from the task model's softmax on the unlabeled pool."""

from __future__ import annotations

from collections.abc import Callable

import torch

from vaal_core.strategies import Picks, QueryContext, ScoreKind, Strategy, register_strategy

from .scores import entropy_score, least_confidence_score, margin_score, pick_top


class _SoftmaxScore(Strategy):
    """Label the `budget` unlabeled images with the highest score of the eval-mode softmax."""

    acquire: Callable[[torch.Tensor], torch.Tensor]

    def select(self, ctx: QueryContext, budget: int) -> Picks:
        unlabeled = ctx.pool.unlabeled
        return pick_top(
            unlabeled, type(self).acquire(ctx.probabilities(unlabeled)), budget, ctx.rng
        )


@register_strategy("entropy")
class EntropyStrategy(_SoftmaxScore):
    """Maximum predictive entropy (Shannon entropy as an AL score: Settles, survey 2009; one of
    the standard baselines in Ash et al., ICLR 2020)."""

    acquire = staticmethod(entropy_score)
    score = ScoreKind(
        "entropy_nats", "entropy of the task model's predicted classes, in nats", higher_first=True
    )


@register_strategy("margin")
class MarginStrategy(_SoftmaxScore):
    """Smallest gap between the top two class probabilities (Scheffer, Decomain & Wrobel,
    IDA 2001)."""

    acquire = staticmethod(margin_score)
    score = ScoreKind(
        "minus_margin",
        "minus the gap between the two most probable classes (0: a tie between them)",
        higher_first=True,
    )


@register_strategy("least_confidence")
class LeastConfidenceStrategy(_SoftmaxScore):
    """Lowest maximum class probability (Lewis & Gale, SIGIR 1994; Settles 2009)."""

    acquire = staticmethod(least_confidence_score)
    score = ScoreKind(
        "least_confidence", "1 minus the probability of the predicted class", higher_first=True
    )
