"""Task kinds: what differs between classification and semantic segmentation, in one place.

A task kind gives the loss, the metric (and the record's `metric` name), how a training batch and
its targets are assembled and augmented, the evaluation view of an image, and how per-pixel
acquisition scores become one score per image. The trainer, `evaluate` and the strategies call
the kind of their data; none of them branches on it.

Segmentation metric: mean intersection-over-union from ONE confusion matrix accumulated over the
whole evaluation set (never an average of per-batch or per-image IoUs), pixels whose truth is
`IGNORE_INDEX` (255) excluded. IoU_c = TP_c / (TP_c + FP_c + FN_c); a class that appears neither
in the truth nor in the predictions of the whole set has no IoU (0/0): it is recorded as null in
`per_class_iou` and left out of the mean (the Cityscapes benchmark's convention; with the full val
set every class occurs in the truth, so it only matters for small subsets and fixtures).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from . import names
from .augment import AUGMENTATIONS, PAIR_AUGMENTATIONS, center_crop
from .registry import Registry

if TYPE_CHECKING:
    from .batches import Batches

IGNORE_INDEX = 255


@dataclass
class Evaluation:
    """One evaluation: the record's `metric` name, its value, and per-class details (or None)."""

    metric: str
    value: float
    per_class_iou: list[float | None] | None = None


# ----------------------------------------------------------------------------- pure metric parts
def confusion_matrix(
    pred: torch.Tensor, target: torch.Tensor, num_classes: int, ignore_index: int = IGNORE_INDEX
) -> torch.Tensor:
    """[C, C] int64 counts, rows = truth, columns = prediction; `ignore_index` pixels dropped."""
    t = target.reshape(-1).long()
    p = pred.reshape(-1).long()
    keep = t != ignore_index
    if ignore_index < num_classes:
        raise ValueError(f"ignore_index {ignore_index} collides with the {num_classes} classes")
    keep &= t < num_classes  # any other out-of-range id counts as void, like the ignore index
    flat = t[keep] * num_classes + p[keep]
    return torch.bincount(flat, minlength=num_classes * num_classes).view(num_classes, num_classes)


def iou_from_confusion(cm: torch.Tensor | np.ndarray) -> tuple[float, list[float | None]]:
    """(mIoU, per-class IoU) of a confusion matrix; classes absent from truth AND prediction are
    None and do not enter the mean (see the module docstring)."""
    cm = np.asarray(torch.as_tensor(cm).cpu(), dtype=np.float64)
    tp = np.diag(cm)
    union = cm.sum(0) + cm.sum(1) - tp
    per = [None if u == 0 else float(t / u) for t, u in zip(tp, union, strict=True)]
    present = [v for v in per if v is not None]
    return (float(np.mean(present)) if present else 0.0), per


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


# ----------------------------------------------------------------------------- meters
class AccuracyMeter:
    """Top-1 accuracy: predictions kept on the device, compared with the labels once."""

    def __init__(self, batches: Batches, split: str):
        self.batches, self.split = batches, split
        self.preds: list[torch.Tensor] = []
        self.idx: list[torch.Tensor] = []

    def update(self, logits: torch.Tensor, chunk: torch.Tensor) -> None:
        self.preds.append(logits.argmax(1))
        self.idx.append(chunk)

    def result(self) -> Evaluation:
        if not self.preds:
            return Evaluation("accuracy", float("nan"))
        hits = torch.cat(self.preds) == self.batches.labels(torch.cat(self.idx), self.split)
        return Evaluation("accuracy", hits.float().mean().item())  # the evaluation's host read


class ConfusionMeter:
    """mIoU: one [C, C] confusion matrix summed on the device over every batch of the set."""

    def __init__(self, batches: Batches, split: str):
        self.batches, self.split = batches, split
        self.cm: torch.Tensor | None = None

    def update(self, logits: torch.Tensor, chunk: torch.Tensor) -> None:
        target = self.batches.targets(chunk, self.split)
        cm = confusion_matrix(logits.argmax(1), target, self.batches.num_classes)
        self.cm = cm if self.cm is None else self.cm + cm

    def result(self) -> Evaluation:
        if self.cm is None:
            return Evaluation("miou", float("nan"))
        miou, per = iou_from_confusion(self.cm)
        return Evaluation("miou", miou, [None if v is None else round(v, 6) for v in per])


# ----------------------------------------------------------------------------- kinds
@dataclass(frozen=True)
class TaskKind:
    """The interface; `CLASSIFICATION` and `SEGMENTATION` below are the two instances."""

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

    def embeddings(self, ctx, idx) -> torch.Tensor:
        """One feature vector per image, for embedding strategies (core-set, ...)."""
        raise NotImplementedError

    def mc_entropy(self, ctx, idx) -> tuple[torch.Tensor, int]:
        """(per-image entropy of the mean of T MC-dropout predictions, T)."""
        raise NotImplementedError

    def selected_histogram(self, labels: np.ndarray, selected: np.ndarray, num_classes: int):
        """The class histogram of a query for the record, where an image has one class."""
        return None

    def aggregate(self, scores: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
        """Image-level scores from per-pixel (or already per-image) scores."""
        return mean_over_valid(scores, valid)


class Classification(TaskKind):
    def loss(self, logits, target):
        return F.cross_entropy(logits, target)

    def eval_view(self, x, size):
        return center_crop(x, size)

    def augment_images(self, fn, x, size, generator):
        return fn(x, size, generator)

    def train_batch(self, batches, idx, augment, generator):
        return batches.images(idx, "train", augment, generator), batches.labels(idx)

    def targets(self, batches, idx, split):
        return batches.labels(idx, split)

    def meter(self, batches, split):
        return AccuracyMeter(batches, split)

    def embeddings(self, ctx, idx):
        return ctx.penultimate_embeddings(idx)

    def mc_entropy(self, ctx, idx):
        from .inference import entropy

        mc = ctx.mc_probabilities(idx)
        return entropy(mc.mean), mc.samples

    def selected_histogram(self, labels, selected, num_classes):
        return np.bincount(labels[selected], minlength=num_classes).tolist()


class Segmentation(TaskKind):
    """Dense labels: per-pixel cross-entropy with ignore index 255, mIoU (see module docstring)."""

    def loss(self, logits, target):
        """Mean cross-entropy over the non-ignored pixels of the batch; 0 (not NaN) when a batch
        holds none, so one all-void crop cannot poison the weights. No host read."""
        total = F.cross_entropy(logits, target, ignore_index=IGNORE_INDEX, reduction="sum")
        return total / (target != IGNORE_INDEX).sum().clamp_min(1)

    def eval_view(self, x, size):
        return x  # the whole cached image: evaluation and scoring see every pixel

    def augment_images(self, fn, x, size, generator):
        # images without masks (VAAL's VAE): the flip of the same draw, never a crop, so the VAE
        # sees whole scenes both while training and while scoring the pool
        return fn(x, None, size, generator, crop=False)[0]

    def embeddings(self, ctx, idx):
        return ctx.pooled_embeddings(idx)

    def mc_entropy(self, ctx, idx):
        mc = ctx.seg_mc(idx)
        return mc.entropy, mc.samples

    def train_batch(self, batches, idx, augment, generator):
        x = batches.data.read("train", torch.as_tensor(idx))
        y = batches.data.read_masks("train", torch.as_tensor(idx))
        x, y = x.to(batches.device, non_blocking=True), y.to(batches.device, non_blocking=True)
        if augment:
            x, y = batches.augment_fn(x, y, batches.data.image_size, generator)
        return batches.finish(x), y.long()

    def targets(self, batches, idx, split):
        y = batches.data.read_masks(split, torch.as_tensor(idx))
        return y.to(batches.device, non_blocking=True).long()

    def meter(self, batches, split):
        return ConfusionMeter(batches, split)


CLASSIFICATION = Classification("classification", "accuracy", dict(AUGMENTATIONS), 1024)
SEGMENTATION = Segmentation("segmentation", "miou", dict(PAIR_AUGMENTATIONS), default_min_fit=0.5)
TASKS: Registry[TaskKind] = Registry("task kind", ValueError, declared=names.TASK_KINDS)
for _kind in (CLASSIFICATION, SEGMENTATION):
    TASKS.add(_kind.name, _kind)
TASKS.check_declared()


def get_task(name: str) -> TaskKind:
    return TASKS.get(name)
