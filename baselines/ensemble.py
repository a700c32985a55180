"""Ensemble disagreement: variation ratio over M independently initialised task models
(Beluch, Genewein, Nürnberger & Köhler, "The power of ensembles for active learning in image
classification", CVPR 2018).

The loop's own task model is NOT a member: all M members are trained here on the labeled set,
made and trained as the loop makes its task model (`fresh_task_model`, `train_for_spec`), each initialised and shuffled from
a seed that is a function of (run seed, cycle, member) alone. Their training time is reported as
`query_stats.extra_train_s`. Members do not use the validation split (the query context does not
expose it), so they keep their last iterate.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from vaal_core.device import seed_everything
from vaal_core.models import fresh_task_model
from vaal_core.passes import predict_logits
from vaal_core.strategies import QueryContext, Strategy, check_at_least, register_strategy
from vaal_core.trainer import train_for_spec

from .scores import top_k, variation_ratio

_ENSEMBLE_PURPOSE = 7


def train_member(ctx: QueryContext, member: int) -> nn.Module:
    """Member `member` of this cycle's ensemble, made and trained as the loop makes and trains
    its task model (pretrained weights, memory format, trainer quirks), on the labeled set."""
    spec = ctx.spec
    gen = seed_everything(ctx.generator.initial_seed(), _ENSEMBLE_PURPOSE, member)
    model = fresh_task_model(
        spec.task,
        ctx.batches.channels,
        ctx.batches.num_classes,
        ctx.device,
        channels_last=spec.runtime.channels_last,
    )
    model, _ = train_for_spec(
        model, ctx.batches, ctx.pool.labeled, spec, gen, progress=ctx.progress
    )
    return model


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

    def select(self, ctx: QueryContext, budget: int) -> np.ndarray:
        unlabeled = ctx.pool.unlabeled
        members = self.options.ensemble_size
        votes, train_s = [], 0.0
        for member in range(members):
            t0 = time.perf_counter()
            model = train_member(ctx, member)
            train_s += time.perf_counter() - t0
            logits = predict_logits(
                model, ctx.batches, unlabeled, self.spec.task.eval_batch_size, self.spec.runtime
            )
            votes.append(logits.argmax(1).cpu())
            ctx.forward_passes += 1
            del model
        ctx.stats["extra_train_s"] = round(train_s, 3)
        ctx.stats["ensemble_size"] = members
        scores = variation_ratio(torch.stack(votes), ctx.batches.num_classes)
        return unlabeled[top_k(scores, budget, ctx.rng)]
