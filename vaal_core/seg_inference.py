"""Pool inference for segmentation strategies: per-pixel scores reduced to one score per image.

A segmentation model here exposes `features(x)` (its last feature map) and `head(f, size)`
(dropout, 1x1 classifier, upsampling; vaal_core/drn.py). Everything streams batch by batch: a
[N, C, H, W] probability tensor of a pool never exists (Cityscapes' 2,678 unlabeled images at
512 x 1024 x 19 classes would be 107 GB), only [B, C, H, W] of one batch.

- MC dropout (Gal & Ghahramani, ICML 2016): the trunk runs once per batch in eval mode; the head
  runs T times with its Dropout2d active, from a seed of this cycle's query stream alone. The
  mean softmax and the argmax votes are accumulated per pixel.
- "Ignore pixels" at query time: there are no labels for the pool, so the void regions cannot be
  read from its masks. We take the pixels that are ignore (255) in at least half of the LABELED
  set's masks (Cityscapes: the ego-vehicle hood and the rectification border, void in every
  frame) and leave them out of every image's mean; the labeled masks are labels the run already
  paid for. The cached rows are never padded, so there is no padding region to exclude.

Pure score functions (`pixel_entropy`, `vote_entropy`, `ensemble_variance`) act on one batch's
maps and are checked by hand in tests/test_segmentation.py; `vaal_core.tasks.mean_over_valid`
turns a map into one score per image.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from .device import autocast
from .inference import mc_dropout_mode
from .passes import eval_mode, index_chunks
from .spec import RuntimeSpec
from .tasks import IGNORE_INDEX, mean_over_valid

if TYPE_CHECKING:  # annotations only: at run time inference needs no data view
    from .batches import Batches

VOID_FRACTION = 0.5  # a pixel void in at least this share of labeled masks is left out


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
def void_mask(batches: Batches, labeled: np.ndarray, batch_size: int) -> torch.Tensor | None:
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
    model: nn.Module, batches: Batches, idx: np.ndarray, batch_size: int, runtime: RuntimeSpec
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
    batches: Batches,
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
    batches: Batches,
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
