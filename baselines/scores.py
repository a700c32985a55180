"""Acquisition scores on probability arrays (higher = more worth labeling) and top-k selection.

Pure functions of tensors, so their values can be checked by hand (tests/test_baselines.py).
"""

from __future__ import annotations

import numpy as np
import torch

from vaal_core.strategies import Picks, entropy

# rows of an [N, C] array scored at a time: a score's temporaries are ROWS x C, not N x C (at
# ImageNet's 1,000 classes and 1.15M unlabeled images one N x C float32 temporary is 4.6 GB)
ROWS = 65536


def rowwise(score, p: torch.Tensor) -> torch.Tensor:
    """`score` of each row of a 2-d `p`, ROWS rows at a time (the same numbers: every score here
    is a function of its row alone); other shapes in one call."""
    if p.dim() != 2 or len(p) <= ROWS:
        return score(p)
    return torch.cat([score(p[i : i + ROWS]) for i in range(0, len(p), ROWS)])


def _margin(p: torch.Tensor) -> torch.Tensor:
    top2 = p.topk(2, dim=-1).values
    return -(top2[..., 0] - top2[..., 1])


def _least_confidence(p: torch.Tensor) -> torch.Tensor:
    return 1.0 - p.max(-1).values


def entropy_score(p: torch.Tensor) -> torch.Tensor:
    """Predictive entropy H[p] in nats (Shannon 1948; as an AL score, e.g. Settles 2009)."""
    return rowwise(entropy, p)


def margin_score(p: torch.Tensor) -> torch.Tensor:
    """Minus the gap between the two most probable classes (Scheffer et al., IDA 2001)."""
    return rowwise(_margin, p)


def least_confidence_score(p: torch.Tensor) -> torch.Tensor:
    """1 - max_c p_c (Lewis & Gale, SIGIR 1994)."""
    return rowwise(_least_confidence, p)


def bald_score(mean: torch.Tensor, expected_entropy: torch.Tensor) -> torch.Tensor:
    """BALD mutual information H[mean_t p_t] - mean_t H[p_t] (Houlsby et al. 2011; Gal et al. 2017)."""
    return rowwise(entropy, mean) - expected_entropy


def variation_ratio(votes: torch.Tensor, num_classes: int) -> torch.Tensor:
    """1 - (members voting for the modal class) / M, from votes [M, N] of predicted classes.

    Disagreement across an ensemble (Freeman 1965; Beluch et al., CVPR 2018), not least-confidence.
    The modal count is the most members agreeing with any one member: no N x classes table
    (memory O(M N) whatever `num_classes`; 9 GB at ImageNet's 1.15M images x 1,000 classes)."""
    m, n = votes.shape
    modal = torch.zeros(n, dtype=torch.long, device=votes.device)
    for member in votes:
        torch.maximum(modal, (votes == member).sum(0), out=modal)
    return 1.0 - modal.double() / m


def top_k(scores: torch.Tensor | np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Positions of the k highest scores; ties are broken by a seeded random order, not by index
    (index order would favour the start of the pool whenever scores are discrete, as votes are)."""
    s = scores.detach().double().cpu().numpy() if isinstance(scores, torch.Tensor) else scores
    s = np.asarray(s, dtype=np.float64)
    if np.isnan(s).any():
        raise RuntimeError("acquisition scores contain NaN; the task model diverged")
    tiebreak = rng.permutation(len(s))
    return np.lexsort((tiebreak, -s))[:k]


def pick_top(
    unlabeled: np.ndarray, scores: torch.Tensor | np.ndarray, k: int, rng: np.random.Generator
) -> Picks:
    """The k unlabeled images of highest score (`top_k`'s rule), with their scores."""
    s = scores.detach().double().cpu().numpy() if isinstance(scores, torch.Tensor) else scores
    picked = top_k(s, k, rng)
    return Picks(unlabeled[picked], np.asarray(s, dtype=np.float64)[picked])
