"""Inference passes over index sets: the model in eval mode for the pass, the indices in chunks.

One helper each for what five passes (logits, embeddings, evaluation, segmentation features,
ensemble variance) repeated, one copy of which left a model in eval mode when a pass raised: a
strategy's error then trained the next model with frozen BatchNorm statistics.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import torch
from torch import nn

from .device import device_index


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
