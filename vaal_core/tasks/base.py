"""The task-kind interface, its registry, and the one reduction every per-pixel score shares."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import torch

from ..errors import SpecError
from ..registry import Registry

if TYPE_CHECKING:
    from ..batches import Batches
    from ..strategies import QueryContext


@dataclass
class Evaluation:
    """One evaluation: the record's `metric` name, its value, and per-class details (or None)."""

    metric: str
    value: float
    per_class_iou: list[float | None] | None = None


def mean_over_valid(scores: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
    """Per-image mean of a per-pixel score map [B, H, W] over its valid pixels -> [B].

    `valid` is [H, W] (one mask for every image) or [B, H, W]; an image with no valid pixel
    scores 0. Classification scores [B] pass through unchanged.
    """
    if scores.dim() == 1:
        return scores
    if valid is None:
        return scores.flatten(1).mean(1)
    v = valid.to(scores.device, torch.bool).expand_as(scores)
    total = (scores * v).flatten(1).sum(1)
    count = v.flatten(1).sum(1)
    return torch.where(count > 0, total / count.clamp_min(1), torch.zeros_like(total))


@dataclass(frozen=True)
class TaskKind:
    """The interface; each kind's module defines a subclass and registers one instance.

    Inference methods take the cycle's `QueryContext` and memoise through `ctx.memo`, so two
    strategies (or a strategy and its diagnostics) asking for the same pass pay for it once.
    """

    name: str
    metric: str
    augmentations: dict[str, Callable] = field(default_factory=dict)
    # images per VAAL scoring batch (None: task.eval_batch_size); classification keeps the
    # 1024 its records were made with
    vaal_score_batch: int | None = None
    # the least metric on its own labeled set a healthy model reaches (`task.min_fit` overrides):
    # a classifier trained to convergence fits nearly all of a small labeled set; a segmentation
    # network's labeled-set mIoU is lower (rare classes, thin structures), 0.5 is our guess,
    # unverified on full-size Cityscapes/BDD100K
    default_min_fit: float = 0.9
    # one class per image: the image-level ablations (protocol.label_noise flips an image's class,
    # protocol.initial_classes filters images by class) have a meaning; dense labels have none
    image_labels: bool = True

    # ------------------------------------------------------------------ training and evaluation
    def loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def eval_view(self, x: torch.Tensor, size: int) -> torch.Tensor:
        raise NotImplementedError

    def augment_images(self, fn: Callable, x: torch.Tensor, size: int, generator) -> torch.Tensor:
        raise NotImplementedError

    def train_batch(self, batches: Batches, idx, augment: bool, generator):
        raise NotImplementedError

    def targets(self, batches: Batches, idx, split: str) -> torch.Tensor:
        """What the loss compares with: labels [B] or masks [B, H, W], long, on the device."""
        raise NotImplementedError

    def meter(self, batches: Batches, split: str):
        """An accumulator with `update(logits, idx_chunk)` and `result() -> Evaluation`."""
        raise NotImplementedError

    def selected_histogram(self, labels: np.ndarray, selected: np.ndarray, num_classes: int):
        """The class histogram of a query for the record, where an image has one class."""
        return None

    # ------------------------------------------------------------------ pool inference
    def embeddings(self, ctx: QueryContext, idx: np.ndarray) -> torch.Tensor:
        """One feature vector per image, for embedding strategies (core-set, ...)."""
        raise NotImplementedError

    def probabilities(self, ctx: QueryContext, idx: np.ndarray) -> torch.Tensor:
        """Class probabilities [N, C] per image (eval mode, no augmentation)."""
        raise NotImplementedError(f"{self.name} tasks have no per-image class probabilities")

    def mc_entropy(
        self, ctx: QueryContext, idx: np.ndarray, samples: int
    ) -> tuple[torch.Tensor, int]:
        """(per-image entropy of the mean of T = `samples` MC-dropout predictions, T)."""
        raise NotImplementedError

    def aggregate(self, scores: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
        """Image-level scores from per-pixel (or already per-image) scores."""
        return mean_over_valid(scores, valid)


# open: a plug-in ($VAAL_PLUGINS) registers a kind of its own with `register_task_kind`
TASKS: Registry[TaskKind] = Registry("task kind", SpecError)


def register_task_kind(kind: TaskKind) -> TaskKind:
    """Add a kind instance under its own name (its module calls this once)."""
    return TASKS.add(kind.name, kind)


def get_task(name: str) -> TaskKind:
    return TASKS.get(name)


def mc_seed(ctx: QueryContext, samples: int) -> int:
    """The seed of a cycle's MC-dropout passes: this cycle's query stream and T alone, so every
    strategy reading them (and any order of asking) sees the same samples."""
    return ctx.derived_seed(_MC_PURPOSE, samples)


_MC_PURPOSE = 1
