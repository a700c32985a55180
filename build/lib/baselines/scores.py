"""Acquisition scores on probability arrays (higher = more worth labeling) and top-k selection.

Pure functions of tensors, so their values can be checked by hand (tests/test_baselines.py).
"""

from __future__ import annotations

import numpy as np
import torch

from vaal_core.passes import entropy


def entropy_score(p: torch.Tensor) -> torch.Tensor:
    """Predictive entropy H[p] in nats (Shannon 1948; as an AL score, e.g. Settles 2009)."""
    return entropy(p)


def margin_score(p: torch.Tensor) -> torch.Tensor:
    """Minus the gap between the two most probable classes (Scheffer et al., IDA 2001)."""
    top2 = p.topk(2, dim=-1).values
    return -(top2[..., 0] - top2[..., 1])


def least_confidence_score(p: torch.Tensor) -> torch.Tensor:
    """1 - max_c p_c (Lewis & Gale, SIGIR 1994)."""
    return 1.0 - p.max(-1).values


def bald_score(mean: torch.Tensor, expected_entropy: torch.Tensor) -> torch.Tensor:
    """BALD mutual information H[mean_t p_t] - mean_t H[p_t] (Houlsby et al. 2011; Gal et al. 2017)."""
    return entropy(mean) - expected_entropy


def variation_ratio(votes: torch.Tensor, num_classes: int) -> torch.Tensor:
    """1 - (members voting for the modal class) / M, from votes [M, N] of predicted classes.

    Disagreement across an ensemble (Freeman 1965; Beluch et al., CVPR 2018), not least-confidence.
    """
    m, n = votes.shape
    counts = torch.zeros(n, num_classes, dtype=torch.long, device=votes.device)
    counts.scatter_add_(1, votes.t().long(), torch.ones_like(votes.t(), dtype=torch.long))
    return 1.0 - counts.max(1).values.double() / m


def top_k(scores: torch.Tensor | np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Positions of the k highest scores; ties are broken by a seeded random order, not by index
    (index order would favour the start of the pool whenever scores are discrete, as votes are)."""
    s = scores.detach().double().cpu().numpy() if isinstance(scores, torch.Tensor) else scores
    s = np.asarray(s, dtype=np.float64)
    if np.isnan(s).any():
        raise RuntimeError("acquisition scores contain NaN; the task model diverged")
    tiebreak = rng.permutation(len(s))
    return np.lexsort((tiebreak, -s))[:k]
