"""What a strategy may read in a round: the pool, the trained task model, un-augmented data on
the device, seeded generators, and answers (logits, embeddings, MC-dropout passes, members)
computed once per cycle and counted."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import StrategyError
from ..run.pool import Pool
from ..spec import Spec
from ..tasks import MCSummary, TaskKind
from ..train.batches import Batches
from ..train.device import seed_everything
from ..train.passes import PassOptions


@dataclass
class QueryContext:
    spec: Spec
    pool: Pool
    task_model: nn.Module
    batches: Batches
    rng: np.random.Generator
    generator: torch.Generator
    cycle: int
    progress: bool = True
    # what the strategy wants in the cycle record (extra training seconds, diagnostics, ...);
    # JSON-serialisable values only. The loop writes it as the record's `query_stats`.
    stats: dict[str, Any] = field(default_factory=dict)
    # passes of the task model over an index set so far (each cache miss is one pass)
    forward_passes: int = 0
    # how the round makes and trains a strategy's own member (`train_member`); None: this
    # context cannot train one (a strategy that needs it fails with a clear error)
    member_trainer: Callable[[torch.Generator, np.ndarray], nn.Module] | None = None
    _cache: dict[tuple, Any] = field(default_factory=dict)

    @property
    def device(self) -> torch.device:
        return self.batches.device

    def derived_seed(self, *purpose: int) -> int:
        """A seed that is a function of this cycle's query stream and `purpose` only.

        It does not consume `generator`, so helpers give the same answer whatever order
        strategies call them in.
        """
        keys = [self.generator.initial_seed(), *purpose]
        return int(np.random.SeedSequence(keys).generate_state(1)[0])

    def train_member(self, purpose: int, member: int, labeled: np.ndarray) -> nn.Module:
        """Member `member` of a strategy's own models (ensemble, bootstrap) trained on `labeled`,
        made and trained as the round makes its task model (pretrained weights, memory format,
        trainer quirks), seeded from this cycle's query stream, `purpose` and `member` alone."""
        if self.member_trainer is None:
            raise StrategyError("this query context cannot train a strategy's own members")
        gen = seed_everything(self.generator.initial_seed(), purpose, member)
        return self.member_trainer(gen, labeled)

    @property
    def kind(self) -> TaskKind:
        """The task kind of the data: it owns every pass over the pool (tasks/<kind>.py)."""
        return self.batches.kind

    @staticmethod
    def _key(name: str, idx: np.ndarray, *extra: Any) -> tuple:
        idx = np.ascontiguousarray(idx, dtype=np.int64)
        return (name, len(idx), hashlib.sha1(idx.tobytes()).hexdigest(), *extra)

    def memo(
        self, name: str, idx: np.ndarray, compute: Callable[[], Any], *extra: Any, passes: int = 1
    ) -> Any:
        """This cycle's `name` of images `idx` (and `extra`), computed once; `passes`: the
        forward passes of the task model one computation costs (counted in the record)."""
        key = self._key(name, idx, *extra)
        if key not in self._cache:
            self._cache[key] = compute()
            self.forward_passes += passes
        return self._cache[key]

    def provide(self, name: str, idx: np.ndarray, value: Any, *extra: Any) -> None:
        """A value computed alongside another (or given by a benchmark): kept unless present."""
        self._cache.setdefault(self._key(name, idx, *extra), value)

    # ------------------------------------------------------------------ what a strategy may ask
    # The task kind computes each answer (its `Inference` methods); the context caches it for
    # the cycle and counts the forward passes it cost.
    @property
    def pass_options(self) -> PassOptions:
        return PassOptions(self.spec.task.eval_batch_size, self.spec.runtime)

    def logits(self, idx: np.ndarray) -> torch.Tensor:
        """Logits [N, C] of the task model on images `idx` (eval mode, no augmentation)."""
        return self.memo(
            "logits",
            idx,
            lambda: self.kind.logits(self.task_model, self.batches, idx, self.pass_options),
        )

    def probabilities(self, idx: np.ndarray) -> torch.Tensor:
        """Softmax of the task model on images `idx` (eval mode, no augmentation), cached per cycle."""
        return self.memo("probs", idx, lambda: self.logits(idx).softmax(1), passes=0)

    def embeddings(self, idx: np.ndarray) -> torch.Tensor:
        """One feature vector [N, d] per image, as the task kind defines it: the penultimate
        layer (classification) or the global-average-pooled last feature map (segmentation).
        Where the kind's pass also gives logits, a later `probabilities(idx)` costs no pass."""

        def compute() -> torch.Tensor:
            out = self.kind.embeddings(self.task_model, self.batches, idx, self.pass_options)
            if out.logits is not None:
                self.provide("logits", idx, out.logits)
            return out.features

        return self.memo("embeddings", idx, compute)

    def score_mask(self) -> Any:
        """The kind's mask of what counts in an image's score, from this cycle's labeled set."""
        labeled = self.pool.labeled
        return self.memo(
            "mask",
            labeled,
            lambda: self.kind.score_mask(self.batches, labeled, self.pass_options),
            passes=0,
        )

    def mc_summary(self, idx: np.ndarray, samples: int) -> MCSummary:
        """T = `samples` MC-dropout passes over images `idx`, summarised per image by the task
        kind, seeded from this cycle's query stream and T alone: every strategy reading them
        (in any order) sees the same samples, and a cycle pays for them once."""
        seed = self.derived_seed(_MC_PURPOSE, samples)

        def compute() -> MCSummary:
            mask = self.score_mask()
            return self.kind.mc_summary(
                self.task_model, self.batches, idx, self.pass_options, samples, seed, mask
            )

        return self.memo("mc", idx, compute, samples, passes=samples)

    def image_mc_entropy(self, idx: np.ndarray, samples: int) -> tuple[torch.Tensor, int]:
        """(per-image entropy of the mean of `samples` MC-dropout predictions [N], T): per image,
        or averaged over an image's valid pixels, as the task kind defines it."""
        mc = self.mc_summary(idx, samples)
        return mc.entropy, mc.samples

    def member_logits(self, member: nn.Module, idx: np.ndarray) -> torch.Tensor:
        """Logits [N, C] of a strategy's own member on images `idx` (one pass, not cached)."""
        self.forward_passes += 1
        return self.kind.logits(member, self.batches, idx, self.pass_options)

    def ensemble_variance(self, members: list[nn.Module], idx: np.ndarray) -> torch.Tensor:
        """[N] the members' disagreement on images `idx` (one pass per member, not cached)."""
        self.forward_passes += len(members)
        mask = self.score_mask()
        return self.kind.ensemble_variance(members, self.batches, idx, self.pass_options, mask)


# purpose of the MC-dropout passes' seed within a cycle's query stream
_MC_PURPOSE = 1
