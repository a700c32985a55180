"""Classification: one label per image, cross-entropy, top-1 accuracy, and its pool inference.

Two passes over a set of training images, both under `inference_mode`, without augmentation:
- `logits_and_embeddings`: eval mode; the penultimate features are the INPUT of the model's last
  `nn.Linear`, captured by a forward pre-hook, so any network whose output layer is its last
  Linear (small_cnn, torchvision VGG16-bn and ResNet18) works without per-model code;
- `mc_dropout_summary`: T stochastic passes with only the Dropout modules in train mode
  (BatchNorm keeps its running statistics), as MC dropout requires (Gal & Ghahramani, ICML 2016;
  Gal, Islam & Ghahramani, ICML 2017). It streams the mean prediction and the mean per-pass
  entropy, so memory is O(N x C) whatever T is.

MC passes share the deterministic part of the network: a forward pre-hook repeats the input of
the first Dropout that fires T times along the batch, so everything before it runs once and every
copy draws its own masks from there on (the same distribution as T separate passes). This holds
when the layers after the first Dropout treat samples independently, as classifier heads do in
eval mode; if a model breaks that (shapes stop matching), we fall back to T full passes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..spec import RuntimeSpec
from ..train.augment import AUGMENTATIONS, center_crop
from ..train.device import autocast
from ..train.passes import (
    dropout_modules,
    entropy,
    eval_mode,
    index_chunks,
    mc_dropout_mode,
    predict_logits,
)
from ..train.view import ImageView
from .base import Embedded, Evaluation, TaskKind, register_task_kind


def last_linear(model: nn.Module) -> nn.Linear:
    """The output layer: the last `nn.Linear` registered in the model."""
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError(
            f"task model {type(model).__name__} has no nn.Linear output layer, so it has no "
            "penultimate embedding; register a model whose last Linear is its classifier"
        )
    return linears[-1]


@torch.inference_mode()
def logits_and_embeddings(
    model: nn.Module, batches: ImageView, idx: np.ndarray, batch_size: int, runtime: RuntimeSpec
) -> tuple[torch.Tensor, torch.Tensor]:
    """(logits [N, C], penultimate features [N, d]) in one eval-mode pass, float32 on the device."""
    feats: list[torch.Tensor] = []
    handle = last_linear(model).register_forward_pre_hook(
        lambda _m, args: feats.append(args[0].flatten(1).float())
    )
    logits = []
    try:
        with eval_mode(model):
            for chunk in index_chunks(idx, batch_size):
                with autocast(batches.device, runtime.precision):
                    logits.append(model(batches.images(chunk)).float())
    finally:
        handle.remove()
    if not logits:
        return torch.empty(0, batches.num_classes), torch.empty(0, 0)
    return torch.cat(logits), torch.cat(feats)


@dataclass(frozen=True)
class MCProbabilities:
    """Summary of T MC-dropout passes: all that max-entropy and BALD need."""

    mean: torch.Tensor  # [N, C] mean softmax over the passes
    expected_entropy: torch.Tensor  # [N] mean over passes of each pass's predictive entropy
    samples: int  # T

    @property
    def entropy(self) -> torch.Tensor:
        """[N] entropy of the mean prediction (max-entropy's score)."""
        return entropy(self.mean)


@contextlib.contextmanager
def _repeat_at_first_dropout(model: nn.Module, samples: int) -> Iterator[dict]:
    """While active, the first Dropout to fire in a forward repeats its input `samples` times."""
    state = {"fired": False}

    def pre_hook(_module: nn.Module, args: tuple) -> tuple | None:
        if state["fired"]:
            return None
        state["fired"] = True
        z = args[0]
        return (z.repeat(samples, *([1] * (z.dim() - 1))), *args[1:])

    handles = [m.register_forward_pre_hook(pre_hook) for m in dropout_modules(model)]
    try:
        yield state
    finally:
        for h in handles:
            h.remove()


@torch.inference_mode()
def mc_passes(
    model: nn.Module, x: torch.Tensor, samples: int, runtime: RuntimeSpec
) -> torch.Tensor:
    """Softmax of `samples` stochastic passes over one batch: [T, B, C] (global torch RNG)."""
    with mc_dropout_mode(model), autocast(x.device, runtime.precision):
        try:
            with _repeat_at_first_dropout(model, samples) as state:
                out = model(x)
            if state["fired"] and out.shape[0] == samples * len(x):
                return out.float().softmax(-1).reshape(samples, len(x), -1)
        except RuntimeError:
            pass  # layers after the first Dropout mix the batch: fall back to full passes
        return torch.stack([model(x).float().softmax(-1) for _ in range(samples)])


@torch.inference_mode()
def mc_dropout_summary(
    model: nn.Module,
    batches: ImageView,
    idx: np.ndarray,
    batch_size: int,
    runtime: RuntimeSpec,
    samples: int,
    seed: int,
) -> MCProbabilities:
    """T stochastic passes over images `idx`, seeded by `seed` alone (the global RNG is restored).

    Batches of `batch_size` images keep the trunk efficient; the layers after the first Dropout
    then see T x batch_size rows (lower task.eval_batch_size if a wide head does not fit).
    """
    devices = [batches.device] if batches.device.type == "cuda" else []
    means, exp_h = [], []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        for chunk in index_chunks(idx, batch_size):
            p = mc_passes(model, batches.images(chunk), samples, runtime)
            means.append(p.mean(0))
            exp_h.append(entropy(p).mean(0))
    if not means:
        empty = torch.empty(0, batches.num_classes)
        return MCProbabilities(empty, torch.empty(0), samples)
    return MCProbabilities(torch.cat(means), torch.cat(exp_h), samples)


class AccuracyMeter:
    """Top-1 accuracy: predictions kept on the device, compared with the labels once."""

    def __init__(self, batches: ImageView, split: str):
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

    def selected_histogram(self, labels, selected, num_classes):
        return np.bincount(labels[selected], minlength=num_classes).tolist()

    # ------------------------------------------------------------------ pool inference
    def logits(self, model, view, idx, opts):
        return predict_logits(model, view, idx, opts.batch_size, opts.runtime)

    def embeddings(self, model, view, idx, opts):
        """Penultimate-layer features [N, d] (the input of the last nn.Linear), with the logits
        of the same eval-mode pass."""
        logits, feats = logits_and_embeddings(model, view, idx, opts.batch_size, opts.runtime)
        return Embedded(feats, logits)

    def mc_summary(self, model, view, idx, opts, samples, seed, mask=None) -> MCProbabilities:
        """Mean softmax and mean entropy of T = `samples` MC-dropout passes (eval mode except
        the Dropout modules), seeded by `seed` alone: the same seed, the same samples."""
        return mc_dropout_summary(model, view, idx, opts.batch_size, opts.runtime, samples, seed)


CLASSIFICATION = register_task_kind(
    Classification("classification", "accuracy", dict(AUGMENTATIONS), vaal_score_batch=1024)
)
