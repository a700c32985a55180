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

import math
import time
from dataclasses import dataclass

import numpy as np
import torch

from vaal_core.strategies import Picks, QueryContext, ScoreKind, Strategy, register_strategy
from vaal_core.strategies.contract import check_at_least

from .scores import top_k

_BOOTSTRAP_PURPOSE = 11


def greedy_representative(cand: torch.Tensor, pool: torch.Tensor, k: int) -> np.ndarray:
    """Positions (into `cand`) of k greedy picks maximising sum_u max_s cos(s, u).

    `cand` [K, d] candidate descriptors, `pool` [N, d] descriptors of the images to represent.
    Coverage starts at -1 (the least cosine), so the first pick is the most central candidate;
    ties go to the lowest position.
    """
    c = torch.nn.functional.normalize(cand.double(), dim=1)
    u = torch.nn.functional.normalize(pool.double(), dim=1)
    sim = c @ u.T  # [K, N]
    cover = torch.full((u.shape[0],), -1.0, dtype=torch.float64)
    free = torch.ones(len(c), dtype=torch.bool)
    picks = []
    for _ in range(min(k, len(c))):
        gain = torch.maximum(sim, cover).sum(1)
        gain[~free] = -math.inf
        j = int(torch.argmax(gain))
        picks.append(j)
        free[j] = False
        cover = torch.maximum(cover, sim[j])
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
        picked = cands[greedy_representative(desc[cands].cpu(), desc.cpu(), budget)]
        ctx.stats.update(
            extra_train_s=round(train_s, 3), ensemble_size=len(members), candidates=int(k)
        )
        return Picks(unlabeled[picked], np.arange(1.0, len(picked) + 1))
