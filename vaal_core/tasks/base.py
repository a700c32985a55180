"""The task-kind interface, its registry, and the one reduction every per-pixel score shares.

A kind answers two sets of questions: how a model of its kind trains and is evaluated (loss,
batches, metric), and the `Inference` questions strategies ask about a pool (logits,
embeddings, MC-dropout summaries, ensemble variance). Each inference method takes the model,
the image view, the indices and the pass options, and returns tensors: a kind never sees a
strategy or the query context; the context caches what a kind computes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from ..errors import SpecError
from ..registry import Registry
from ..train.passes import PassOptions
from ..train.view import ImageView


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
class Embedded:
    """One feature vector per image, and the logits of the same pass where the kind has them
    (so a later question for probabilities costs no second pass)."""

    features: torch.Tensor  # [N, d]
    logits: torch.Tensor | None = None  # [N, C]


class MCSummary(Protocol):
    """What T MC-dropout passes leave per image; each kind adds its own fields (classification:
    the mean softmax and expected entropy for BALD; segmentation: the vote entropy)."""

    entropy: torch.Tensor  # [N] entropy of the mean prediction (averaged over valid pixels)
    samples: int  # T


@dataclass(frozen=True)
class TaskKind:
    """The interface; each kind's module defines a subclass and registers one instance.

    The inference methods below are the one contract between strategies (through the query
    context, which caches their answers per cycle) and a kind.
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

    def train_batch(self, batches: ImageView, idx, augment: bool, generator):
        raise NotImplementedError

    def targets(self, batches: ImageView, idx, split: str) -> torch.Tensor:
        """What the loss compares with: labels [B] or masks [B, H, W], long, on the device."""
        raise NotImplementedError

    def meter(self, batches: ImageView, split: str):
        """An accumulator with `update(logits, idx_chunk)` and `result() -> Evaluation`."""
        raise NotImplementedError

    def selected_histogram(self, labels: np.ndarray, selected: np.ndarray, num_classes: int):
        """The class histogram of a query for the record, where an image has one class."""
        return None

    # ------------------------------------------------------------------ pool inference
    def logits(self, model: nn.Module, view: ImageView, idx: np.ndarray, opts: PassOptions):
        """Logits [N, C] per image (eval mode, no augmentation)."""
        raise NotImplementedError(f"{self.name} tasks have no per-image class probabilities")

    def embeddings(
        self, model: nn.Module, view: ImageView, idx: np.ndarray, opts: PassOptions
    ) -> Embedded:
        """One feature vector per image, for embedding strategies (core-set, ...)."""
        raise NotImplementedError(f"{self.name} tasks define no image embedding")

    def score_mask(self, view: ImageView, labeled: np.ndarray, opts: PassOptions) -> Any:
        """What restricts an image's score to the parts that count (segmentation: the valid
        pixels, read from the labeled masks); None when every part counts."""
        return None

    def mc_summary(
        self,
        model: nn.Module,
        view: ImageView,
        idx: np.ndarray,
        opts: PassOptions,
        samples: int,
        seed: int,
        mask: Any = None,
    ) -> MCSummary:
        """T = `samples` MC-dropout passes seeded by `seed` alone, summarised per image."""
        raise NotImplementedError(f"{self.name} tasks define no MC-dropout summary")

    def ensemble_variance(
        self,
        models: list[nn.Module],
        view: ImageView,
        idx: np.ndarray,
        opts: PassOptions,
        mask: Any = None,
    ) -> torch.Tensor:
        """[N] disagreement of an ensemble: the members' softmax variance, mean over classes."""
        raise NotImplementedError(f"{self.name} tasks define no ensemble variance")

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
