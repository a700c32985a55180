"""One query round, written once: seed its random streams, build and train the task model, ask a
strategy. The loop (a cycle), `select` (a user's round) and the Python API (a model of one's own)
are thin callers of `Round`; none of them seeds, builds, trains or queries by itself.

Every draw of a round comes from (seed, stream, purpose) alone, so a round resumed after a kill
repeats exactly what an uninterrupted one would have done. `stream` is the cycle in a run and the
round's key in `select`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum

import numpy as np
import torch
from torch import nn

from ..models import fresh_task_model
from ..spec import Spec
from ..strategies import QueryContext, Selection, Strategy
from ..train.batches import Batches
from ..train.device import seed_everything
from ..train.trainer import TrainStats, train_for_spec
from .pool import Pool

TrainFn = Callable[..., tuple[nn.Module, TrainStats]]


class Stream(IntEnum):
    """What each of a round's random streams is for (the third key of every seed)."""

    INIT = 0  # the task model's initial weights
    TRAIN = 1  # the task model's shuffling, augmentation and dropout
    QUERY = 2  # the strategy's draws (and, derived from it, its members' and MC passes')
    FIT = 3  # the sample of the labeled set on which the fit check is measured


def build_task_model(
    spec: Spec, batches: Batches, state: dict | None = None, device: torch.device | None = None
) -> nn.Module:
    """The spec's task model for `batches` (the one factory, the spec's memory format), on the
    batches' device unless told otherwise; initialised from the global RNG, which callers seed."""
    return fresh_task_model(
        spec.task,
        batches.channels,
        batches.num_classes,
        device or batches.device,
        channels_last=spec.runtime.channels_last,
        state=state,
    )


@dataclass
class Round:
    """One round of (seed, stream): train on the labeled set, then query the unlabeled pool."""

    spec: Spec
    batches: Batches
    seed: int
    stream: int
    cycle: int  # what the strategy and the failpoints call this round (from 0)
    progress: bool = True

    def rng(self, purpose: Stream) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.stream, int(purpose)])

    def train(
        self,
        labeled: np.ndarray,
        *,
        state: dict | None = None,
        val: np.ndarray | None = None,
        train_fn: TrainFn = train_for_spec,
    ) -> tuple[nn.Module, TrainStats]:
        """A fresh task model (or `state`, a warm start) trained on `labeled` by the spec's recipe."""
        seed_everything(self.seed, self.stream, Stream.INIT)
        model = build_task_model(self.spec, self.batches, state)
        gen = seed_everything(self.seed, self.stream, Stream.TRAIN)
        return train_fn(
            model, self.batches, labeled, self.spec, gen, val=val, progress=self.progress
        )

    def context(self, pool: Pool, model: nn.Module) -> QueryContext:
        """What the strategy may read this round; seeds the query stream."""
        return QueryContext(
            spec=self.spec,
            pool=pool,
            task_model=model,
            batches=self.batches,
            rng=self.rng(Stream.QUERY),
            generator=seed_everything(self.seed, self.stream, Stream.QUERY),
            cycle=self.cycle,
            progress=self.progress,
            member_trainer=self._train_member,
        )

    def query(self, strategy: Strategy, pool: Pool, model: nn.Module, budget: int) -> Selection:
        """The strategy's `budget` picks from `pool`'s unlabeled images, with their scores."""
        return strategy.query(self.context(pool, model), budget)

    def _train_member(self, generator: torch.Generator, labeled: np.ndarray) -> nn.Module:
        """A strategy's own member (ensemble, bootstrap), made and trained as the task model is;
        the context seeded the global RNG and `generator` from the member's stream."""
        model = build_task_model(self.spec, self.batches)
        model, _ = train_for_spec(
            model, self.batches, labeled, self.spec, generator, progress=self.progress
        )
        return model
