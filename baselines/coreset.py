"""Core-set selection by k-center greedy (Sener & Savarese, "Active Learning for Convolutional
Neural Networks: A Core-Set Approach", ICLR 2018) on the task model's penultimate-layer features.

Memory is O(N + budget) beyond the features themselves (which are not copied): the squared
distance of every image to its nearest centre is one vector, initialised block by block against
the labeled set (blocks of `baselines.chunk_size` rows, so at most chunk x chunk distances exist
at once) and updated by one matrix-vector product per chosen centre. No N x N matrix is ever formed. Runs in
torch on the features' device (GPU for ImageNet-sized pools).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from vaal_core.strategies import QueryContext, Strategy, check_at_least, register_strategy


def chunk_size_option() -> Any:
    """The `baselines.chunk_size` field of every strategy that computes distances in blocks:
    rows per block (memory, not results); its owner calls `check_chunk_size`."""
    return field(default=4096, metadata={"key": "chunk_size"})


def check_chunk_size(value: int) -> None:
    check_at_least("chunk_size", value, 1, "rows per distance block")


@dataclass(frozen=True)
class CoreSetOptions:
    chunk_size: int = chunk_size_option()

    def __post_init__(self) -> None:
        check_chunk_size(self.chunk_size)


def sq_norms(x: torch.Tensor) -> torch.Tensor:
    """Squared row norms without an N x d temporary."""
    return torch.linalg.vector_norm(x, dim=1).square_()


def min_sq_distances(
    x: torch.Tensor, norms: torch.Tensor, centre_rows: np.ndarray, chunk: int, out: torch.Tensor
) -> torch.Tensor:
    """out[i] = min(out[i], squared distance of x[i] to its nearest x[centre_rows]), blockwise:
    one chunk x chunk block of distances (and one chunk of centres) exists at a time."""
    for j in range(0, len(centre_rows), chunk):
        rows = torch.as_tensor(centre_rows[j : j + chunk], device=x.device)
        c, c_norm = x[rows], norms[rows]
        for i in range(0, len(x), chunk):
            # ||x||^2 + ||c||^2 - 2 x.c, built in one buffer
            d = torch.addmm(c_norm.unsqueeze(0), x[i : i + chunk], c.T, alpha=-2.0)
            d.add_(norms[i : i + chunk, None]).clamp_min_(0)
            block = out[i : i + chunk]
            torch.minimum(block, d.amin(1), out=block)
    return out


@torch.inference_mode()
def k_center_greedy(
    features: torch.Tensor, labeled: np.ndarray, budget: int, chunk: int = 4096
) -> np.ndarray:
    """Positions of `budget` greedy k-center picks among the rows of `features` not flagged in the
    boolean mask `labeled`: each pick is the row farthest from the labeled rows and the picks so
    far (ties: lowest position). `features` is read in place, never copied."""
    norms = sq_norms(features)
    min_d = torch.full((len(features),), float("inf"), dtype=features.dtype, device=features.device)
    min_sq_distances(features, norms, np.flatnonzero(labeled), chunk, min_d)
    min_d[torch.as_tensor(labeled, device=features.device)] = -1.0  # never selectable
    d = torch.empty_like(min_d)
    chosen = torch.empty(budget, dtype=torch.long, device=features.device)
    for k in range(budget):
        j = int(torch.argmax(min_d))
        chosen[k] = j
        torch.mv(features, features[j], out=d)  # x_i . x_j, then ||x_i||^2 + ||x_j||^2 - 2 x_i.x_j
        d.mul_(-2.0).add_(norms).add_(norms[j]).clamp_min_(0)
        torch.minimum(min_d, d, out=min_d)
        min_d[j] = -1.0  # never chosen twice, even among exact duplicates
    return chosen.cpu().numpy()


@register_strategy("coreset")
class CoreSetStrategy(Strategy):
    """k-center greedy on penultimate features of labeled + unlabeled images (Sener & Savarese,
    ICLR 2018); the greedy 2-approximation, not the paper's robust MIP refinement.

    Segmentation: one vector per image, the global-average-pooled last feature map."""

    task_kinds = frozenset({"classification", "segmentation"})
    options_type = CoreSetOptions

    def select(self, ctx: QueryContext, budget: int) -> np.ndarray:
        cands = ctx.pool.candidates
        feats = ctx.embeddings(cands)
        ctx.stats["embedding_dim"] = int(feats.shape[1])
        is_lab = np.isin(cands, ctx.pool.labeled)
        return cands[k_center_greedy(feats, is_lab, budget, self.options.chunk_size)]
