"""Semantic segmentation: dense labels, per-pixel cross-entropy, mIoU, and its pool inference.

Metric: mean intersection-over-union from ONE confusion matrix accumulated over the whole
evaluation set (never an average of per-batch or per-image IoUs), pixels whose truth is
`IGNORE_INDEX` (255) excluded. IoU_c = TP_c / (TP_c + FP_c + FN_c); a class that appears neither
in the truth nor in the predictions of the whole set has no IoU (0/0): it is recorded as null in
`per_class_iou` and left out of the mean (the Cityscapes benchmark's convention; with the full val
set every class occurs in the truth, so it only matters for small subsets and fixtures).

Pool inference: a segmentation model exposes `features(x)` (its last feature map) and
`head(f, size)` (dropout, 1x1 classifier, upsampling; vaal_core/models/drn.py). Everything streams batch
by batch: a [N, C, H, W] probability tensor of a pool never exists (Cityscapes' 2,678 unlabeled
images at 512 x 1024 x 19 classes would be 107 GB), only [B, C, H, W] of one batch.

- MC dropout (Gal & Ghahramani, ICML 2016): the trunk runs once per batch in eval mode; the head
  runs T times with its Dropout2d active, from a seed of this cycle's query stream alone. The
  mean softmax and the argmax votes are accumulated per pixel.
- "Ignore pixels" at query time: there are no labels for the pool, so the void regions cannot be
  read from its masks. We take the pixels that are ignore (255) in at least half of the LABELED
  set's masks (Cityscapes: the ego-vehicle hood and the rectification border, void in every
  frame) and leave them out of every image's mean; the labeled masks are labels the run already
  paid for. The cached rows are never padded, so there is no padding region to exclude.

Pure score functions (`pixel_entropy`, `vote_entropy`, `ensemble_variance`) act on one batch's
maps and are checked by hand in tests/test_segmentation.py; `mean_over_valid` turns a map into
one score per image.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..spec import RuntimeSpec
from ..train.augment import PAIR_AUGMENTATIONS
from ..train.device import autocast
from ..train.passes import eval_mode, index_chunks, mc_dropout_mode
from ..train.view import ImageView
from .base import Embedded, Evaluation, TaskKind, mean_over_valid, register_task_kind

IGNORE_INDEX = 255

VOID_FRACTION = 0.5  # a pixel void in at least this share of labeled masks is left out


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


class ConfusionMeter:
    """mIoU: one [C, C] confusion matrix summed on the device over every batch of the set."""

    def __init__(self, batches: ImageView, split: str):
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


def pixel_entropy(p: torch.Tensor) -> torch.Tensor:
    """Entropy (nats) over the class axis of [B, C, H, W] probabilities -> [B, H, W]."""
    return torch.special.entr(p).sum(1)


def vote_entropy(votes: torch.Tensor, samples: int) -> torch.Tensor:
    """Vote entropy of a committee (Dagan & Engelson, ICML 1995): the entropy of the share of the
    `samples` members voting for each class, from vote counts [B, C, H, W] -> [B, H, W]."""
    return pixel_entropy(votes.float() / samples)


def ensemble_variance(p: torch.Tensor) -> torch.Tensor:
    """Variance across members of [M, B, C, H, W] probabilities, averaged over classes -> [B, H, W]
    (Yang et al., MICCAI 2017: uncertainty of a bootstrapped FCN ensemble)."""
    return p.var(0, unbiased=False).mean(1)


def pooled(features: torch.Tensor) -> torch.Tensor:
    """One descriptor per image: the global average over the map, [B, C, h, w] -> [B, C]
    (core-set's embedding; suggestive annotation's descriptor)."""
    return features.float().mean((2, 3))


@torch.inference_mode()
def void_mask(batches: ImageView, labeled: np.ndarray, batch_size: int) -> torch.Tensor | None:
    """[H, W] bool, True where a pixel counts (see the module docstring); None without labels."""
    counts, n = None, 0
    for chunk in index_chunks(labeled, batch_size):
        y = batches.targets(chunk, "train")
        c = (y == IGNORE_INDEX).sum(0)
        counts = c if counts is None else counts + c
        n += len(chunk)
    if counts is None:
        return None
    return counts.float() / n < VOID_FRACTION


@torch.inference_mode()
def gap_embeddings(
    model: nn.Module, batches: ImageView, idx: np.ndarray, batch_size: int, runtime: RuntimeSpec
) -> torch.Tensor:
    """Global-average-pooled last feature map [N, d] (eval mode, no augmentation)."""
    out = []
    with eval_mode(model):
        for chunk in index_chunks(idx, batch_size):
            with autocast(batches.device, runtime.precision):
                out.append(pooled(model.features(batches.images(chunk))))
    return torch.cat(out) if out else torch.empty(0, 0)


@dataclass(frozen=True)
class SegMCScores:
    """Per-image scores of T MC-dropout passes."""

    entropy: torch.Tensor  # [N] mean over valid pixels of H[mean_t p_t]
    vote_entropy: torch.Tensor  # [N] mean over valid pixels of the committee's vote entropy
    samples: int


@torch.inference_mode()
def seg_mc_scores(
    model: nn.Module,
    batches: ImageView,
    idx: np.ndarray,
    batch_size: int,
    runtime: RuntimeSpec,
    samples: int,
    seed: int,
    valid: torch.Tensor | None,
) -> SegMCScores:
    """T stochastic head passes per batch (trunk once), seeded by `seed` alone."""
    devices = [batches.device] if batches.device.type == "cuda" else []
    ent, vent = [], []
    with torch.random.fork_rng(devices=devices), mc_dropout_mode(model):
        torch.manual_seed(seed)
        for chunk in index_chunks(idx, batch_size):
            with autocast(batches.device, runtime.precision):
                x = batches.images(chunk)
                f = model.features(x)
            mean = votes = None
            for _ in range(samples):
                with autocast(batches.device, runtime.precision):
                    logits = model.head(f, tuple(x.shape[-2:])).float()
                p = logits.softmax(1)
                v = torch.zeros_like(p).scatter_(1, p.argmax(1, keepdim=True), 1.0)
                mean = p if mean is None else mean + p
                votes = v if votes is None else votes + v
            ent.append(mean_over_valid(pixel_entropy(mean / samples), valid))
            vent.append(mean_over_valid(vote_entropy(votes, samples), valid))
    if not ent:
        return SegMCScores(torch.empty(0), torch.empty(0), samples)
    return SegMCScores(torch.cat(ent).cpu(), torch.cat(vent).cpu(), samples)


@torch.inference_mode()
def seg_ensemble_variance(
    models: list[nn.Module],
    batches: ImageView,
    idx: np.ndarray,
    batch_size: int,
    runtime: RuntimeSpec,
    valid: torch.Tensor | None,
) -> torch.Tensor:
    """[N] per-image mean of the members' per-pixel variance (eval mode)."""
    out = []
    with eval_mode(*models):
        for chunk in index_chunks(idx, batch_size):
            x = batches.images(chunk)
            with autocast(batches.device, runtime.precision):
                p = torch.stack([m(x).float().softmax(1) for m in models])
            out.append(mean_over_valid(ensemble_variance(p), valid))
    return torch.cat(out).cpu() if out else torch.empty(0)


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

    # ------------------------------------------------------------------ pool inference
    def embeddings(self, model, view, idx, opts):
        """Global-average-pooled last feature map [N, d]."""
        return Embedded(gap_embeddings(model, view, idx, opts.batch_size, opts.runtime))

    def score_mask(self, view, labeled, opts) -> torch.Tensor | None:
        """[H, W] mask of the pixels that count in an image's score (pixels void in at least
        half of the labeled masks are left out; see the module docstring)."""
        return void_mask(view, labeled, opts.batch_size)

    def mc_summary(self, model, view, idx, opts, samples, seed, mask=None) -> SegMCScores:
        """Per-image entropy and vote entropy of T = `samples` MC-dropout passes."""
        return seg_mc_scores(model, view, idx, opts.batch_size, opts.runtime, samples, seed, mask)

    def ensemble_variance(self, models, view, idx, opts, mask=None):
        """[N] per-image mean of the members' per-pixel variance over the valid pixels."""
        return seg_ensemble_variance(models, view, idx, opts.batch_size, opts.runtime, mask)


SEGMENTATION = register_task_kind(
    Segmentation(
        "segmentation", "miou", dict(PAIR_AUGMENTATIONS), default_min_fit=0.5, image_labels=False
    )
)
