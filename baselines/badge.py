"""BADGE: k-means++ seeding on gradient embeddings (Ash, Zhang, Krishnamurthy, Langford &
Agarwal, "Deep Batch Active Learning by Diverse, Uncertain Gradient Lower Bounds", ICLR 2020).

The gradient embedding of image i is g_i = a_i (x) h_i, the outer product of a_i = p_i -
onehot(argmax p_i) (C values) and the penultimate features h_i (d values): the gradient of the
cross-entropy with the predicted label w.r.t. the last layer's weights. At VGG16-bn's 4096-d
features and 1000 classes one g_i has 4M entries, so the pool's cannot be stored. We never form
them: <g_i, g_j> = <a_i, a_j> <h_i, h_j>, hence ||g_i - g_j||^2 = ||a_i||^2 ||h_i||^2 +
||a_j||^2 ||h_j||^2 - 2 <a_i, a_j><h_i, h_j>, and k-means++ needs only the distances of all
points to the newest centre, i.e. two matrix-vector products. Memory O(N (d + C)).
"""

from __future__ import annotations

import numpy as np
import torch

from vaal_core.strategies import Picks, QueryContext, ScoreKind, Strategy, register_strategy

_BADGE_PURPOSE = 3


def gradient_factors(probs: torch.Tensor) -> torch.Tensor:
    """a = p - onehot(argmax p): the class factor of the gradient embedding (one N x C copy)."""
    a = probs.clone()
    rows = torch.arange(len(a), device=a.device)
    a[rows, probs.argmax(1)] -= 1.0
    return a


def gradient_sq_norms(a: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """||g_i||^2 = ||a_i||^2 ||h_i||^2 (no N x C or N x d temporaries)."""
    return (
        torch.linalg.vector_norm(a, dim=1).square_() * torch.linalg.vector_norm(h, dim=1).square_()
    )


def factored_sq_distances(
    a: torch.Tensor, h: torch.Tensor, j: int, sq: torch.Tensor | None = None
) -> torch.Tensor:
    """||g_i - g_j||^2 for every i, from the factors only (`sq`: precomputed squared norms)."""
    sq = gradient_sq_norms(a, h) if sq is None else sq
    return (torch.mv(a, a[j]).mul_(torch.mv(h, h[j])).mul_(-2.0).add_(sq).add_(sq[j])).clamp_min_(0)


@torch.inference_mode()
def badge_seeding(
    a: torch.Tensor, h: torch.Tensor, budget: int, generator: torch.Generator
) -> np.ndarray:
    """k-means++ seeding (Arthur & Vassilvitskii, SODA 2007) on g_i = a_i (x) h_i: the first
    centre is the largest gradient embedding (as in Ash et al.'s code), each next one is drawn
    with probability proportional to its squared distance to the nearest centre."""
    sq = gradient_sq_norms(a, h)
    first = int(torch.argmax(sq))
    chosen = [first]
    min_d = factored_sq_distances(a, h, first, sq).double()  # float64 for the cumulative sum
    min_d[first] = 0.0
    while len(chosen) < budget:
        cum = torch.cumsum(min_d, 0)
        total = float(cum[-1])
        if total <= 0:  # every remaining point coincides with a centre: take them in order
            rest = np.setdiff1d(np.arange(len(a)), chosen)
            chosen.extend(rest[: budget - len(chosen)].tolist())
            break
        u = float(torch.rand((), generator=generator, dtype=torch.float64)) * total
        u_t = torch.tensor([u], dtype=cum.dtype, device=cum.device)
        j = min(int(torch.searchsorted(cum, u_t, right=True)[0]), len(a) - 1)
        if min_d[j] <= 0:  # u landed on the float edge of the last bin
            j = int(torch.argmax(min_d))
        chosen.append(j)
        torch.minimum(min_d, factored_sq_distances(a, h, j, sq).double(), out=min_d)
        min_d[j] = 0.0
    return np.asarray(chosen, dtype=np.int64)


@register_strategy("badge")
class BadgeStrategy(Strategy):
    """Diverse and uncertain: k-means++ seeds among the unlabeled gradient embeddings."""

    score = ScoreKind(
        "pick_order",
        "k-means++ seeding on the gradient embeddings: the step at which the image was chosen (1: first)",
        higher_first=False,
    )

    def select(self, ctx: QueryContext, budget: int) -> Picks:
        unlabeled = ctx.pool.unlabeled
        h = ctx.embeddings(unlabeled)
        a = gradient_factors(ctx.probabilities(unlabeled))
        gen = torch.Generator().manual_seed(ctx.derived_seed(_BADGE_PURPOSE))
        return Picks(unlabeled[badge_seeding(a, h, budget, gen)], np.arange(1.0, budget + 1))
