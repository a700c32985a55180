"""Suggestive annotation (Yang, Zhang, Chen, Zhang & Chen, "Suggestive Annotation: A Deep Active
Learning Framework for Biomedical Image Segmentation", MICCAI 2017).

Two steps per query:
1. Uncertainty from a bootstrap ensemble: M = `baselines.sa_ensemble_size` task models, each
   trained (the spec's task recipe) on a resample WITH replacement of the labeled set, seeded by
   (run seed, cycle, member) alone. A pixel's uncertainty is the variance of the members'
   softmax, averaged over classes; an image's, its mean over valid pixels. The K = ceil(
   `baselines.sa_candidates_factor` x budget) most uncertain unlabeled images are candidates.
2. Representativeness: image descriptors are the task model's global-average-pooled last
   feature map (Yang et al. use their FCN's mean last-layer features); similarity is cosine.
   Greedily add the candidate that most increases F(S) = sum over all unlabeled images u of
   max_{s in S} cos(s, u), a facility-location objective (their Eq. 1), until `budget` are
   chosen.
The loop's own task model is not a member. Members' training time goes to
`query_stats.extra_train_s`.
"""

from __future__ import annotations

import heapq
import math
import time
from dataclasses import dataclass

import numpy as np
import torch

from vaal_core.strategies import Picks, QueryContext, ScoreKind, Strategy, register_strategy
from vaal_core.strategies.contract import check_at_least

from .scores import top_k

_BOOTSTRAP_PURPOSE = 11


BLOCK_BYTES = 2**27  # the first gains are computed a block of candidates at a time


def greedy_representative(
    cand: torch.Tensor, pool: torch.Tensor, k: int, stats: dict | None = None
) -> np.ndarray:
    """Positions (into `cand`) of k greedy picks maximising F(S) = sum_u max_s cos(s, u).

    `cand` [K, d] candidate descriptors, `pool` [N, d] descriptors of the images to represent.
    Coverage starts at -1 (the least cosine), so the first pick is the most central candidate;
    ties go to the lowest position.

    Lazy greedy (Minoux, 1978): F is submodular, so a candidate's gain F(S + j) - F(S) can only
    shrink as picks are added, and a gain computed before the last pick bounds it from above.
    Candidates wait in a heap by their last gain; a stale top is re-evaluated (a row of cosines,
    N x d; up to 64 stale tops in one matrix product) and a fresh top is the greedy pick. Same
    picks as the direct form, without its K x N matrix (24 K N bytes: 24 GB at N = 45,000,
    b = 2,250); `stats` gets the number of rows evaluated.
    """
    c = torch.nn.functional.normalize(cand.double(), dim=1)
    u = torch.nn.functional.normalize(pool.double(), dim=1)
    cover = torch.full((u.shape[0],), -1.0, dtype=torch.float64)
    rows = max(1, BLOCK_BYTES // (8 * max(1, len(u))))
    first = [  # gains over the empty set: sum_u (cos + 1)
        (c[i : i + rows] @ u.T - cover).clamp_(min=0).sum(1) for i in range(0, len(c), rows)
    ]
    gains = torch.cat(first).tolist() if first else []
    heap = [(-g, j) for j, g in enumerate(gains)]
    heapq.heapify(heap)
    fresh_at = [0] * len(c)  # how many picks there were when candidate j's gain was computed
    picks: list[int] = []
    evaluations = len(c)
    batch = min(64, rows)
    while heap and len(picks) < k:
        _, j = heapq.heappop(heap)
        if fresh_at[j] == len(picks):  # its gain is current and no other's bound is higher
            picks.append(j)
            cover = torch.maximum(cover, u @ c[j])
            continue
        stale = [j]  # re-evaluated with the next stale tops: one matrix product, not many
        while heap and len(stale) < batch and fresh_at[heap[0][1]] != len(picks):
            stale.append(heapq.heappop(heap)[1])
        gains = (c[stale] @ u.T - cover).clamp_(min=0).sum(1).tolist()
        for j, g in zip(stale, gains, strict=True):
            fresh_at[j] = len(picks)
            heapq.heappush(heap, (-g, j))
        evaluations += len(stale)
    if stats is not None:
        stats["representative_evaluations"] = evaluations
    return np.asarray(picks, dtype=np.int64)


@dataclass(frozen=True)
class SuggestiveOptions:
    ensemble_size: int = 4  # `baselines.sa_ensemble_size`: Yang et al. (2017) used 4 FCNs
    candidates_factor: float = 2.0  # `baselines.sa_candidates_factor`: K = ceil(this x budget)

    def __post_init__(self) -> None:
        check_at_least(
            "sa_ensemble_size",
            self.ensemble_size,
            2,
            "bootstrap members must be at least two to disagree",
        )
        check_at_least(
            "sa_candidates_factor",
            self.candidates_factor,
            1,
            "the uncertain candidates must hold at least the budget",
        )


@register_strategy("suggestive_annotation")
class SuggestiveAnnotationStrategy(Strategy):
    task_kinds = frozenset({"segmentation"})
    options_type, option_prefix = SuggestiveOptions, "sa_"
    score = ScoreKind(
        "pick_order",
        "the greedy facility-location choice among the most uncertain images: the step at which the image was chosen (1: first)",
        higher_first=False,
    )

    def _members(self, ctx: QueryContext) -> tuple[list[torch.nn.Module], float]:
        labeled = ctx.pool.labeled
        models, t0 = [], time.perf_counter()
        for m in range(self.options.ensemble_size):
            rng = np.random.default_rng([ctx.generator.initial_seed(), _BOOTSTRAP_PURPOSE, m])
            resample = np.sort(rng.choice(labeled, size=len(labeled), replace=True))
            models.append(ctx.train_member(_BOOTSTRAP_PURPOSE, m, resample))
        return models, time.perf_counter() - t0

    def select(self, ctx: QueryContext, budget: int) -> np.ndarray:
        unlabeled = ctx.pool.unlabeled
        members, train_s = self._members(ctx)
        unc = ctx.ensemble_variance(members, unlabeled)
        k = min(len(unlabeled), math.ceil(self.options.candidates_factor * budget))
        cands = top_k(unc, k, ctx.rng)
        desc = ctx.embeddings(unlabeled)
        picked = cands[greedy_representative(desc[cands].cpu(), desc.cpu(), budget, ctx.stats)]
        ctx.stats.update(
            extra_train_s=round(train_s, 3), ensemble_size=len(members), candidates=int(k)
        )
        return Picks(unlabeled[picked], np.arange(1.0, len(picked) + 1))
