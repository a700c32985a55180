"""Single-pass uncertainty sampling from the task model's softmax on the unlabeled pool."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from vaal_core.strategies import QueryContext, Strategy, register_strategy

from .scores import entropy_score, least_confidence_score, margin_score, top_k


class _SoftmaxScore(Strategy):
    """Label the `budget` unlabeled images with the highest score of the eval-mode softmax."""

    score: Callable[[torch.Tensor], torch.Tensor]

    def select(self, ctx: QueryContext, budget: int) -> np.ndarray:
        unlabeled = ctx.pool.unlabeled
        scores = type(self).score(ctx.probabilities(unlabeled))
        return unlabeled[top_k(scores, budget, ctx.rng)]


@register_strategy("entropy")
class EntropyStrategy(_SoftmaxScore):
    """Maximum predictive entropy (Shannon entropy as an AL score: Settles, survey 2009; one of
    the standard baselines in Ash et al., ICLR 2020)."""

    score = staticmethod(entropy_score)


@register_strategy("margin")
class MarginStrategy(_SoftmaxScore):
    """Smallest gap between the top two class probabilities (Scheffer, Decomain & Wrobel,
    IDA 2001)."""

    score = staticmethod(margin_score)


@register_strategy("least_confidence")
class LeastConfidenceStrategy(_SoftmaxScore):
    """Lowest maximum class probability (Lewis & Gale, SIGIR 1994; Settles 2009)."""

    score = staticmethod(least_confidence_score)
