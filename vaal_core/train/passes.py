"""Inference passes over index sets, whatever the task kind: the model in eval mode (or in
MC-dropout mode) for the pass, the indices in chunks, logits of a set, entropy.

One helper each for what five passes (logits, embeddings, evaluation, segmentation features,
ensemble variance) repeated, one copy of which left a model in eval mode when a pass raised: a
strategy's error then trained the next model with frozen BatchNorm statistics.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..spec import RuntimeSpec
from .device import autocast, device_index
from .view import ImageView


@dataclass(frozen=True)
class PassOptions:
    """How a pass over an index set runs: images per chunk and the run's precision/device."""

    batch_size: int
    runtime: RuntimeSpec


@contextlib.contextmanager
def eval_mode(*models: nn.Module) -> Iterator[None]:
    """Eval mode (BatchNorm running statistics, no dropout) inside the block; each model's own
    previous mode after it, also when the block raises."""
    modes = [m.training for m in models]
    for m in models:
        m.eval()
    try:
        yield
    finally:
        for m, was in zip(models, modes, strict=True):
            m.train(was)


def index_chunks(idx, size: int, device: torch.device | None = None) -> Iterator[torch.Tensor]:
    """`idx` as int64 tensors of at most `size` indices; with `device`, sent there once first
    (`device_index`: device-resident data then reads without a copy per chunk)."""
    t = torch.as_tensor(np.asarray(idx) if not torch.is_tensor(idx) else idx, dtype=torch.long)
    if device is not None:
        t = device_index(t, device)
    for start in range(0, len(t), size):
        yield t[start : start + size]


def dropout_modules(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if isinstance(m, nn.modules.dropout._DropoutNd)]


@contextlib.contextmanager
def mc_dropout_mode(model: nn.Module) -> Iterator[None]:
    """Eval mode everywhere except Dropout; restores the previous modes afterwards."""
    drops = dropout_modules(model)
    if not drops:
        raise RuntimeError(
            f"task model {type(model).__name__} has no Dropout layer, so MC-dropout passes would "
            "all be identical; add one (see RESNET18_HEAD_DROPOUT in vaal_core/models/__init__.py)"
        )
    modes = {m: m.training for m in model.modules()}
    model.eval()
    for m in drops:
        m.train()
    try:
        yield
    finally:
        for m, mode in modes.items():
            m.training = mode


def entropy(p: torch.Tensor, rows: int = 65536) -> torch.Tensor:
    """Shannon entropy (nats) of each row; 0 log 0 = 0. A 2-d `p` is taken `rows` rows at a
    time, so the temporary is rows x C, not N x C (4.6 GB for ImageNet's MC-dropout mean)."""
    if p.dim() != 2 or len(p) <= rows:
        return torch.special.entr(p).sum(-1)
    return torch.cat([torch.special.entr(p[i : i + rows]).sum(-1) for i in range(0, len(p), rows)])


@torch.inference_mode()
def predict_logits(
    model: nn.Module,
    batches: ImageView,
    idx: np.ndarray,
    batch_size: int,
    runtime: RuntimeSpec,
    split: str = "train",
) -> torch.Tensor:
    """Logits of images `idx` of `split` in eval mode (BN running stats, no dropout), no augmentation.

    On the device: nothing here waits for it; a caller reads the logits when it needs them.
    """
    out = []
    with eval_mode(model):
        for chunk in index_chunks(idx, batch_size, batches.device):
            with autocast(batches.device, runtime.precision):
                out.append(model(batches.images(chunk, split)).float())
    return torch.cat(out) if out else torch.empty(0, device=batches.device)
