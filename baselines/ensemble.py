"""Ensemble disagreement: variation ratio over M independently initialised task models
(Beluch, Genewein, Nürnberger & Köhler, "The power of ensembles for active learning in image
classification", CVPR 2018).

The loop's own task model is NOT a member: all M members are trained here on the labeled set,
made and trained as the round makes its task model (`QueryContext.train_member`), each initialised
and shuffled from a seed that is a function of (run seed, cycle, member) alone. Their training time is reported as
`query_stats.extra_train_s`. Members do not use the validation split (the query context does not
expose it), so they keep their last iterate.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from vaal_core.strategies import Picks, QueryContext, ScoreKind, Strategy, register_strategy
from vaal_core.strategies.contract import check_at_least

from .scores import pick_top, variation_ratio

_ENSEMBLE_PURPOSE = 7


@dataclass(frozen=True)
class EnsembleOptions:
    ensemble_size: int = 5  # M members (Beluch et al., CVPR 2018)

    def __post_init__(self) -> None:
        check_at_least(
            "ensemble_size",
            self.ensemble_size,
            2,
            "a variation ratio needs at least two members to disagree",
        )


@register_strategy("ensemble_varr")
class EnsembleVarRatioStrategy(Strategy):
    """Label the images whose M members disagree most: 1 - votes(modal class) / M."""

    options_type = EnsembleOptions
    score = ScoreKind(
        "variation_ratio",
        "1 minus the share of the members voting for the most voted class",
        higher_first=True,
    )

    def select(self, ctx: QueryContext, budget: int) -> Picks:
        unlabeled = ctx.pool.unlabeled
        members = self.options.ensemble_size
        votes, train_s = [], 0.0
        for member in range(members):
            t0 = time.perf_counter()
            model = ctx.train_member(_ENSEMBLE_PURPOSE, member, ctx.pool.labeled)
            train_s += time.perf_counter() - t0
            votes.append(ctx.member_logits(model, unlabeled).argmax(1).cpu())
            del model
        ctx.stats["extra_train_s"] = round(train_s, 3)
        ctx.stats["ensemble_size"] = members
        scores = variation_ratio(torch.stack(votes), ctx.batches.num_classes)
        return pick_top(unlabeled, scores, budget, ctx.rng)
