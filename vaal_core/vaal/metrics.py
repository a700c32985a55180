"""What VAAL's min-max game produced, as numbers a cycle record can carry.

A discriminator at chance (ROC-AUC near 0.5 at telling labeled from unlabeled images) makes
VAAL's query a random draw that merely looks busy; a collapsed posterior (few active latent
units) leaves it nothing to tell apart. Both are cheap to measure and are recorded every cycle.
"""

from __future__ import annotations

import numpy as np
import torch

# Burda, Grosse, Salakhutdinov, "Importance Weighted Autoencoders", ICLR 2016: a latent unit is
# active when the variance over images of its posterior mean exceeds 0.01.
ACTIVE_UNIT_THRESHOLD = 1e-2


def average_ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks, tied values sharing the mean of their ranks (scipy's `rankdata` default;
    written out because importing scipy.stats costs every VAAL run about 1.4 s)."""
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    last = np.cumsum(counts)  # the highest rank of each distinct value
    return (last - (counts - 1) / 2)[inverse]


def roc_auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """P(score of a random positive > score of a random negative), ties counting half.

    The Mann-Whitney form of the ROC-AUC: exact, O(n log n), and defined for any sample sizes.
    """
    pos, neg = np.asarray(pos, dtype=np.float64), np.asarray(neg, dtype=np.float64)
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    ranks = average_ranks(np.concatenate([pos, neg]))
    u = ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2
    return float(u / (len(pos) * len(neg)))


def auc_chance_band(n_pos: int, n_neg: int, z: float = 1.96) -> float:
    """Half-width of the ~95% band of the AUC of a scorer at chance (Hanley & McNeil 1982, AUC=0.5).

    An AUC inside 0.5 +- this band is indistinguishable from a coin at these sample sizes.
    """
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    var = (n_pos + n_neg + 1) / (12 * n_pos * n_neg)  # variance of U/(mn) under H0
    return float(z * np.sqrt(var))


def accuracy_at_half(pos: np.ndarray, neg: np.ndarray) -> float:
    """Balanced accuracy of thresholding P(labeled) at 0.5 (labeled = positive)."""
    pos, neg = np.asarray(pos), np.asarray(neg)
    return float(((pos >= 0.5).mean() + (neg < 0.5).mean()) / 2)


def active_units(mu: torch.Tensor, threshold: float = ACTIVE_UNIT_THRESHOLD) -> int:
    """Latent dimensions whose posterior mean varies across images: Var_x(mu_u(x)) > threshold."""
    if len(mu) < 2:
        return 0
    return int((mu.float().var(dim=0, unbiased=True) > threshold).sum())
