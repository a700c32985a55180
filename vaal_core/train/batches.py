"""The data view every process trains and scores through, and the one factory that builds it.

`Batches` turns indices into normalised (and, in training, augmented) float batches on the
compute device, from either storage. `data_from_spec` and `batches_from_spec` are the only way a
run builds them: the loop (rank 0) and every DDP follower call the same two functions, so the
ranks of one run cannot drift apart in augmentation, storage or cache options (two copies of
this factory once did: the followers built their data with default options).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from ..datasets import DataSource, dataset_from_spec
from ..errors import DatasetError
from ..spec import Spec
from ..tasks import TaskKind, get_task
from .augment import normalize


@dataclass
class Batches:
    """Images by index, as normalised float batches on the compute device, from any storage.

    `data` is in memory (`ImageData`, uint8 tensors possibly already on the device) or on disk
    (`CachedData`: pinned host reads of a decoded uint8 cache); both expose `read(split, idx)`.
    Augmentation and normalisation run batched on the device either way. `augmentation` is a
    `task.augmentation` value: `standard`/`light` resolve per dataset (CIFAR-like: crop+flip /
    flip; ImageNet-like: random-resized-crop + flip; segmentation: a crop+flip shared by an image
    and its mask), or an explicit name from the task kind's table. The data's task kind
    (`data.task_kind`, default classification) decides targets, views and augmentation.
    """

    data: DataSource
    device: torch.device
    channels_last: bool = False
    augmentation: str = "standard"
    # the labels the oracle gave (differ from the truth under the noisy-oracle ablation)
    train_labels: torch.Tensor | None = None

    def __post_init__(self):
        self.kind: TaskKind = get_task(self.data.task_kind)
        table = self.kind.augmentations
        name = self.data.augment_presets.get(self.augmentation, self.augmentation)
        if name not in table:
            raise ValueError(
                f"unknown augmentation {self.augmentation!r} for {self.kind.name}; valid: "
                f"standard, light, {', '.join(sorted(table))}"
            )
        self.augment_fn = table[name]

    def inputs(
        self, x_uint8: torch.Tensor, augment: bool = False, generator: torch.Generator | None = None
    ):
        x = x_uint8.to(self.device, non_blocking=True)
        size = self.data.image_size
        if augment:
            x = self.kind.augment_images(self.augment_fn, x, size, generator)
        else:
            x = self.kind.eval_view(x, size)
        return self.finish(x)

    def finish(self, x: torch.Tensor) -> torch.Tensor:
        """uint8 (or float 0..255) batch on the device -> normalised float, in the model's layout."""
        x = normalize(x, self.data.mean, self.data.std)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    # The interface strategies and the trainer read images through: indices into a split, never
    # the storage behind them (in-memory tensors or a disk cache).
    @property
    def channels(self) -> int:
        return self.data.channels

    @property
    def num_classes(self) -> int:
        return self.data.num_classes

    def split_size(self, split: str = "train") -> int:
        return len(self.data.labels(split))

    def images(
        self,
        idx,
        split: str = "train",
        augment: bool = False,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Normalised float images `idx` of `split` on the compute device."""
        return self.inputs(self.data.read(split, torch.as_tensor(idx)), augment, generator)

    def labels(self, idx, split: str = "train") -> torch.Tensor:
        oracle = split == "train" and self.train_labels is not None
        y = self.train_labels if oracle else self.data.labels(split)
        return y[_on(idx, y.device)].to(self.device)

    def targets(self, idx, split: str = "train") -> torch.Tensor:
        """What the loss and the metric compare with: labels [B], or masks [B, H, W]."""
        return self.kind.targets(self, idx, split)

    def train_batch(self, idx: torch.Tensor, augment: bool, generator: torch.Generator | None):
        """(images, targets) of a training batch; a mask gets the same crop and flip as its image."""
        return self.kind.train_batch(self, idx, augment, generator)


def _on(idx, device: torch.device) -> torch.Tensor:
    """Indices where the storage is: the hot loop hands device indices to device-resident data
    (no copy); host-resident storage with device indices costs a copy back."""
    idx = torch.as_tensor(idx)
    return idx if idx.device == device else idx.to(device)


def data_from_spec(spec: Spec, data_root: str | Path | None, progress: bool = True) -> DataSource:
    """The spec's dataset with every option its `dataset` section carries (storage, cache)."""
    try:
        return dataset_from_spec(spec.dataset, data_root, progress)
    except OSError as e:  # an unreadable or uncreatable data root
        raise DatasetError(
            f"cannot read dataset '{spec.dataset.name}' under {e.filename or data_root} "
            f"({e.strerror or e}); point DATA_ROOT or --data-root at a readable, writable directory"
        ) from e


def batches_from_spec(spec: Spec, data: DataSource, device: torch.device) -> Batches:
    """`Batches` with the spec's augmentation and layout; in-memory tensors move to `device`, a
    disk cache pins its reads."""
    return Batches(data.to(device), device, spec.runtime.channels_last, spec.task.augmentation)
