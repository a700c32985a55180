"""What every dataset hands the loop: labels in memory, images read by index, one registry.

Two storages serve the same interface (`read(split, idx)` -> uint8 (B, C, H, W) on the host or
the device, `labels(split)`, `to(device)`, `with_test_subset(idx)`):
- `ImageData`: whole uint8 tensors in memory (MNIST, CIFAR: 50,000 x 3 x 32 x 32 is 150 MB);
- `CachedData` (cache.py): a decoded fixed-resolution uint8 array on disk (Caltech-256, ImageNet:
  1.28M x 3 x 224 x 224 would be about 190 GB of host memory).
`vaal_core.train.batches.Batches` wraps either; strategies and the trainer never know which.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import DatasetError, SpecError  # noqa: E402,F401  (DatasetError re-exported)
from ..registry import Registry, did_you_mean

# which augmentation `task.augmentation: standard | light` means, per kind of dataset
SMALL_AUGMENT = {"standard": "crop_flip", "light": "flip"}  # CIFAR-like: pad-4 crop + flip
LARGE_AUGMENT = {"standard": "rrc_flip", "light": "rrc_flip"}  # ImageNet-like (both originals)


class DataSource(Protocol):
    """The storage-independent view `Batches` and the loop read through."""

    name: str
    num_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    augment_presets: dict[str, str]
    storage: str
    task_kind: str  # a name of vaal_core/tasks: the loss, metric and inference of its labels

    @property
    def channels(self) -> int: ...
    @property
    def image_size(self) -> int: ...
    @property
    def train_y(self) -> torch.Tensor: ...
    @property
    def test_y(self) -> torch.Tensor: ...
    def labels(self, split: str) -> torch.Tensor: ...
    def read(self, split: str, idx: torch.Tensor) -> torch.Tensor: ...
    def to(self, device: torch.device) -> DataSource: ...
    def with_test_subset(self, idx: np.ndarray | None) -> DataSource: ...


def _check_split(split: str) -> None:
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")


@dataclass
class ImageData:
    """A labeled image dataset held in memory as uint8 tensors."""

    name: str
    train_x: torch.Tensor  # (N, C, H, W) uint8
    train_y: torch.Tensor  # (N,) int64
    test_x: torch.Tensor
    test_y: torch.Tensor
    num_classes: int
    mean: tuple[float, ...]  # per channel, in [0, 1] units
    std: tuple[float, ...]
    augment_presets: dict[str, str] = field(default_factory=lambda: dict(SMALL_AUGMENT))
    storage: str = "memory"
    task_kind: str = "classification"

    @property
    def channels(self) -> int:
        return self.train_x.shape[1]

    @property
    def image_size(self) -> int:
        return self.train_x.shape[-1]

    def labels(self, split: str) -> torch.Tensor:
        _check_split(split)
        return self.train_y if split == "train" else self.test_y

    def read(self, split: str, idx: torch.Tensor) -> torch.Tensor:
        _check_split(split)
        x = self.train_x if split == "train" else self.test_x
        return x[idx.to(x.device)]

    def to(self, device: torch.device) -> ImageData:
        if self.train_x.device == torch.device(device):
            return self
        move = {k: getattr(self, k).to(device) for k in ("train_x", "train_y", "test_x", "test_y")}
        return replace(self, **move)

    def with_test_subset(self, idx: np.ndarray | None) -> ImageData:
        if idx is None:
            return self
        t = torch.as_tensor(idx, device=self.test_x.device)
        return replace(self, test_x=self.test_x[t], test_y=self.test_y[t.to(self.test_y.device)])


@dataclass(frozen=True)
class LoadOptions:
    """How to load: target size, storage, cache location and policy (from `DatasetSpec`)."""

    image_size: int | None = None  # what the task model sees (None = the dataset's native size)
    storage: str = "auto"  # auto | memory | cache
    cache_dir: Path | None = None  # default <root>/cache
    cache_resolution: int | None = None  # stored side of the square cache images
    cache_rebuild: bool = False  # rebuild a cache whose key differs instead of refusing it
    cache_workers: int | None = None
    download: bool = True  # CIFAR only; never when $VAAL_NO_DOWNLOAD=1
    progress: bool = True
    owned: tuple = ()  # the layout's own spec keys, (key, value) pairs (`dataset.<key>`)

    def allow_download(self) -> bool:
        return self.download and os.environ.get("VAAL_NO_DOWNLOAD", "") not in ("1", "true", "yes")


DatasetLoader = Callable[[Path, LoadOptions], Any]
AvailabilityCheck = Callable[[Path, LoadOptions], None]


@dataclass(frozen=True)
class DatasetLayout:
    """One on-disk dataset: its loader, its cheap availability check, the task its labels define."""

    load: DatasetLoader
    available: AvailabilityCheck | None = None
    kind: str = "classification"  # a task kind's name; checked against `task.kind` at preflight
    # the layout's own spec keys (`dataset.<field>`): a frozen dataclass, or None for none
    options: type | None = None


DATASETS: Registry[DatasetLayout] = Registry("dataset", DatasetError)


def register_dataset(
    name: str,
    available: AvailabilityCheck | None = None,
    kind: str = "classification",
    options: type | None = None,
) -> Callable[[DatasetLoader], DatasetLoader]:
    """Register a loader `(root, LoadOptions) -> ImageData | CachedData` and its cheap check;
    `kind` is the task its labels define (checked against `task.kind` before any compute);
    `options` the dataclass of the layout's own spec keys (read from `LoadOptions.owned`)."""

    def deco(fn: DatasetLoader) -> DatasetLoader:
        DATASETS.add(name, DatasetLayout(fn, available, kind, options))
        return fn

    return deco


def dataset_task_kind(name: str) -> str:
    return DATASETS.get(name).kind


def default_data_root() -> Path:
    return Path(os.environ.get("DATA_ROOT") or "data")


def check_dataset_name(name: str) -> None:
    DATASETS.get(name)


def check_dataset_options(ds: Any) -> None:
    """Every key the spec's dataset section keeps for its layout is one the layout owns: a
    SpecError naming the key and the layout's own keys, before any data is read."""
    given = dict(ds.owned)
    if not given:
        return
    own = DATASETS.get(ds.name).options
    valid = [] if own is None else [f.name for f in dataclasses.fields(own)]
    common = [f.name for f in dataclasses.fields(ds) if f.name != "owned"]
    for key in sorted(given):
        if key not in valid:
            raise SpecError(
                f"unknown spec key 'dataset.{key}'{did_you_mean(f'dataset.{key}', [f'dataset.{k}' for k in (*common, *valid)])}; valid "
                f"keys: {', '.join(sorted(common))}"
                + (f"; dataset '{ds.name}' also owns {', '.join(valid)}" if valid else "")
            )


def _root(root: str | Path | None) -> Path:
    return Path(root) if root is not None else default_data_root()


def check_dataset_available(
    name: str, root: str | Path | None = None, options: LoadOptions | None = None
) -> None:
    """Raise the missing-data DatasetError now, without decoding anything (cheap: stats files)."""
    if (check := DATASETS.get(name).available) is not None:
        check(_root(root), options or LoadOptions())


def load_dataset(
    name: str,
    root: str | Path | None = None,
    image_size: int | None = None,
    options: LoadOptions | None = None,
):
    """The dataset `name` under `root`, at `image_size`, in memory or from the disk cache."""
    layout = DATASETS.get(name)
    opts = options or LoadOptions()
    if image_size is not None:
        opts = replace(opts, image_size=image_size)
    return layout.load(_root(root), opts)


def options_from_spec(ds: Any, progress: bool = True) -> LoadOptions:
    """The `LoadOptions` a `DatasetSpec` carries."""
    return LoadOptions(
        image_size=ds.image_size,
        storage=ds.storage,
        cache_dir=Path(ds.cache_dir) if ds.cache_dir else None,
        cache_resolution=ds.cache_resolution,
        cache_rebuild=ds.cache_rebuild,
        cache_workers=ds.cache_workers,
        download=ds.download,
        progress=progress,
        owned=tuple(getattr(ds, "owned", ())),
    )


def dataset_from_spec(ds: Any, root: str | Path | None = None, progress: bool = True):
    """`load_dataset` with every option a `DatasetSpec` carries (what the loop calls)."""
    return load_dataset(ds.name, root, options=options_from_spec(ds, progress))


def check_spec_dataset(ds: Any, root: str | Path | None = None) -> None:
    """`check_dataset_available` for a `DatasetSpec`: the CLI's preflight, before any run dir."""
    check_dataset_available(ds.name, root, options_from_spec(ds, progress=False))


def resize_uint8(x: torch.Tensor, size: int) -> torch.Tensor:
    """Zero-pad symmetrically when growing by an even margin (MNIST 28 -> 32), else resize."""
    h = x.shape[-1]
    if size == h:
        return x
    if size > h and (size - h) % 2 == 0:
        p = (size - h) // 2
        return F.pad(x, (p, p, p, p))
    out = F.interpolate(
        x.float(), size=(size, size), mode="bilinear", antialias=True, align_corners=False
    )
    return out.round().clamp(0, 255).to(torch.uint8)


def missing(name: str, path: Path, layout: str, where: str) -> DatasetError:
    """The one missing-data message: what, where it was expected, its layout, how to get it."""
    return DatasetError(
        f"{name} not found: expected {path}. layout: {layout}. get it: {where} "
        f"(or point --data-root / $DATA_ROOT at the directory that holds it)"
    )
