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

from vaal_core.strategies import Picks, QueryContext, ScoreKind, Strategy, register_strategy
from vaal_core.strategies.contract import check_at_least

_CORESET_PURPOSE = 13  # seeds the remedies' subset and projection (never the exact algorithm's)


def chunk_size_option() -> Any:
    """The `baselines.chunk_size` field of every strategy that computes distances in blocks:
    rows per block (memory, not results); its owner calls `check_chunk_size`."""
    return field(default=4096, metadata={"key": "chunk_size"})


def check_chunk_size(value: int) -> None:
    check_at_least("chunk_size", value, 1, "rows per distance block")


@dataclass(frozen=True)
class CoreSetOptions:
    """Core-set's knobs. The two remedies for ImageNet-sized pools (docs/scale.md) are off at 0
    and enter the spec hash only when set (`baselines.coreset_candidates`, `..._projection`)."""

    chunk_size: int = chunk_size_option()
    # pick among a random subset of this many unlabeled images (at least the budget), distances
    # still to every labeled image: the DBAL scripts scored a random 2,000 of the pool per query
    candidates: int = 0
    # k-center on features projected to this many dimensions by a seeded Gaussian matrix
    # (Johnson-Lindenstrauss; distances kept within a factor 1 +- eps with high probability)
    projection: int = 0

    def __post_init__(self) -> None:
        check_chunk_size(self.chunk_size)
        check_at_least("coreset_candidates", self.candidates, 0, "0: the whole unlabeled pool")
        check_at_least("coreset_projection", self.projection, 0, "0: the features as they are")


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


def candidate_rows(is_labeled: np.ndarray, budget: int, candidates: int, seed: int) -> np.ndarray:
    """Rows k-center sees: every labeled row and, with `candidates` > 0, a uniform random
    max(candidates, budget) of the unlabeled rows (all of them when there are no more); in
    ascending order, so the tie rule (lowest position) keeps its meaning."""
    unlabeled = np.flatnonzero(~is_labeled)
    m = max(candidates, budget)
    if candidates <= 0 or m >= len(unlabeled):
        return np.arange(len(is_labeled))
    drawn = np.random.default_rng(seed).choice(unlabeled, size=m, replace=False)
    return np.sort(np.concatenate([np.flatnonzero(is_labeled), drawn]))


@torch.inference_mode()
def project(features: torch.Tensor, dims: int, seed: int) -> torch.Tensor:
    """`features` times a seeded d x `dims` Gaussian matrix / sqrt(dims); unchanged when `dims`
    is 0 or not below d. One N x dims copy; the matrix is drawn on the CPU (same on any device)."""
    if dims <= 0 or dims >= features.shape[1]:
        return features
    gen = torch.Generator().manual_seed(seed)
    r = torch.randn(features.shape[1], dims, generator=gen, dtype=torch.float32)
    r = r.to(features.device, features.dtype).div_(dims**0.5)
    return features @ r


def reduced_pool(
    features: torch.Tensor, is_labeled: np.ndarray, budget: int, options: CoreSetOptions, seed: int
) -> tuple[np.ndarray, torch.Tensor, np.ndarray]:
    """(rows kept, their features, their labeled flags) under the remedies of `options`; with
    both off, every row and `features` itself (no copy)."""
    rows = candidate_rows(is_labeled, budget, options.candidates, seed)
    feats = features if len(rows) == len(features) else features[torch.as_tensor(rows)]
    return rows, project(feats, options.projection, seed + 1), is_labeled[rows]


def covering_radius(features: torch.Tensor, centres: np.ndarray, chunk: int = 4096) -> float:
    """The k-center objective: the largest distance of any row to its nearest row of `centres`
    (what the greedy 2-approximation bounds; a remedy's cost in quality, docs/scale.md)."""
    norms = sq_norms(features)
    out = torch.full((len(features),), float("inf"), dtype=features.dtype)
    return float(min_sq_distances(features, norms, centres, chunk, out).max().sqrt())


@torch.inference_mode()
def k_center_greedy(
    features: torch.Tensor,
    labeled: np.ndarray,
    budget: int,
    chunk: int = 4096,
    picked_sq: torch.Tensor | None = None,
) -> np.ndarray:
    """Positions of `budget` greedy k-center picks among the rows of `features` not flagged in the
    boolean mask `labeled`: each pick is the row farthest from the labeled rows and the picks so
    far (ties: lowest position). `features` is read in place, never copied. `picked_sq` (a
    [budget] tensor, optional) receives each pick's squared distance to what covered it then."""
    norms = sq_norms(features)
    min_d = torch.full((len(features),), float("inf"), dtype=features.dtype, device=features.device)
    min_sq_distances(features, norms, np.flatnonzero(labeled), chunk, min_d)
    min_d[torch.as_tensor(labeled, device=features.device)] = -1.0  # never selectable
    d = torch.empty_like(min_d)
    chosen = torch.empty(budget, dtype=torch.long, device=features.device)
    for k in range(budget):
        j = int(torch.argmax(min_d))
        chosen[k] = j
        if picked_sq is not None:
            picked_sq[k] = min_d[j]
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
    options_type, option_prefix = CoreSetOptions, "coreset_"
    score = ScoreKind(
        "sq_distance_to_covered",
        "squared Euclidean distance (task-model features) from the image to the nearest labeled "
        "or earlier-picked image when it was picked; the greedy takes the farthest first",
        higher_first=True,
    )

    def select(self, ctx: QueryContext, budget: int) -> Picks:
        cands = ctx.pool.candidates
        feats = ctx.embeddings(cands)
        ctx.stats["embedding_dim"] = int(feats.shape[1])
        is_lab = np.isin(cands, ctx.pool.labeled)
        rows, feats, is_lab = reduced_pool(
            feats, is_lab, budget, self.options, ctx.derived_seed(_CORESET_PURPOSE)
        )
        dist = torch.empty(budget, dtype=feats.dtype, device=feats.device)
        picked = k_center_greedy(feats, is_lab, budget, self.options.chunk_size, dist)
        return Picks(cands[rows[picked]], dist.double().cpu().numpy())
