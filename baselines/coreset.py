"""Core-set selection by k-center greedy (Sener & Savarese, "Active Learning for Convolutional
Neural Networks: A Core-Set Approach", ICLR 2018) on the task model's penultimate-layer features.

Memory is O(N + budget) beyond the features themselves: the squared distance of every unlabeled
image to its nearest centre is one vector, initialised block by block against the labeled set
(blocks of `baselines.chunk_size` rows, so at most chunk x chunk distances exist at once) and
updated by one matrix-vector product per chosen centre. No N x N matrix is ever formed. Runs in
torch on the features' device (GPU for ImageNet-sized pools).
"""

from __future__ import annotations

import numpy as np
import torch

from vaal_core.strategies import QueryContext, Strategy, register_strategy


def min_sq_distances(x: torch.Tensor, centres: torch.Tensor, chunk: int) -> torch.Tensor:
    """Squared Euclidean distance of each row of `x` to its nearest row of `centres`, blockwise."""
    out = torch.full((len(x),), float("inf"), dtype=x.dtype, device=x.device)
    c_norm = (centres * centres).sum(1)
    for i in range(0, len(x), chunk):
        xi = x[i : i + chunk]
        xi_norm = (xi * xi).sum(1, keepdim=True)
        for j in range(0, len(centres), chunk):
            d = xi_norm + c_norm[j : j + chunk] - 2.0 * xi @ centres[j : j + chunk].T
            out[i : i + chunk] = torch.minimum(out[i : i + chunk], d.clamp_min_(0).min(1).values)
    return out


@torch.inference_mode()
def k_center_greedy(
    unlabeled: torch.Tensor, labeled: torch.Tensor, budget: int, chunk: int = 4096
) -> np.ndarray:
    """Positions (into `unlabeled`) of `budget` greedy k-center picks: each is the point farthest
    from the labeled set and the picks so far. Ties go to the lowest position."""
    if len(labeled):
        min_d = min_sq_distances(unlabeled, labeled, chunk)
    else:  # no centres yet: the first pick is the lowest position, distances follow from it
        min_d = torch.full((len(unlabeled),), float("inf"), dtype=unlabeled.dtype)
        min_d = min_d.to(unlabeled.device)
    norms = (unlabeled * unlabeled).sum(1)
    chosen = torch.empty(budget, dtype=torch.long, device=unlabeled.device)
    for k in range(budget):
        j = int(torch.argmax(min_d))
        chosen[k] = j
        d = (norms + norms[j] - 2.0 * (unlabeled @ unlabeled[j])).clamp_min_(0)
        torch.minimum(min_d, d, out=min_d)
        min_d[j] = -1.0  # never chosen twice, even among exact duplicates
    return chosen.cpu().numpy()


@register_strategy("coreset")
class CoreSetStrategy(Strategy):
    """k-center greedy on penultimate features of labeled + unlabeled images (Sener & Savarese,
    ICLR 2018); the greedy 2-approximation, not the paper's robust MIP refinement."""

    needs = frozenset({"embeddings"})

    def select(self, ctx: QueryContext, budget: int) -> np.ndarray:
        cands = ctx.pool.candidates
        feats = ctx.embeddings(cands)
        is_lab = np.isin(cands, ctx.pool.labeled)
        unl_pos = np.flatnonzero(~is_lab)
        lab = feats[torch.as_tensor(np.flatnonzero(is_lab))]
        unl = feats[torch.as_tensor(unl_pos)]
        ctx.stats["embedding_dim"] = int(feats.shape[1])
        picks = k_center_greedy(unl, lab, budget, self.spec.baselines.chunk_size)
        return cands[unl_pos[picks]]
