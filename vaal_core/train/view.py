"""What a task kind and a pass read images through: indices in, device tensors out.

A structural type only (`batches.Batches` is the one implementation), so the modules that
compute on images (`passes`, `tasks/*`) need not import the module that stores them: the
engine's imports then run one way, from the loop down to the kinds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import torch


class ImageView(Protocol):
    """Normalised images and their targets by index into a split, on the compute device."""

    device: torch.device
    data: Any  # the storage: `read(split, idx)`, `read_masks(split, idx)`, `image_size`
    augment_fn: Callable

    @property
    def num_classes(self) -> int: ...

    def images(
        self,
        idx,
        split: str = "train",
        augment: bool = False,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor: ...

    def labels(self, idx, split: str = "train") -> torch.Tensor: ...

    def targets(self, idx, split: str = "train") -> torch.Tensor: ...

    def finish(self, x: torch.Tensor) -> torch.Tensor: ...
