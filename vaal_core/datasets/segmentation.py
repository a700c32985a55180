"""Segmentation data through the same decoded uint8 disk cache as the large classification sets.

Each split is two caches of the same rows: images (N, 3, H, W) and masks (N, 1, H, W) of train
ids (0..C-1, 255 = ignore). Unlike the classification caches (centre-cropped squares), a
segmentation cache keeps the dataset's aspect ratio: H = `dataset.cache_resolution`, W = H x
aspect (Cityscapes 2:1, BDD100K 16:9), because a scene cropped to a square would lose a third to
half of its labeled pixels for good. Images are resized bicubically (antialiased), masks with
NEAREST neighbour (a label is never blended into another). Training crops `dataset.image_size`
squares from these rows, the same window and flip for an image and its mask, on the device
(`vaal_core.train.augment.paired_crop_flip`); evaluation and query scoring see whole rows.

A segmentation image has no image-level class: `labels(split)` holds zeros (so split sizes,
pools and records work unchanged) and the targets are read with `read_masks`.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .base import DatasetError
from .cache import CachedData, CacheKey, CacheReader, build_cache, require_disk_cache, source_hash

SEG_AUGMENT = {"standard": "seg_crop_flip", "light": "seg_flip"}
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def cached_shape(resolution: int, aspect: float) -> tuple[int, int]:
    return resolution, max(1, round(resolution * aspect))


@dataclass(frozen=True)
class SegLayout:
    """What a segmentation layout fixes: frame aspect, cached height, classes, id mapping."""

    aspect: float  # width / height of a frame
    resolution: int  # the cached height by default (dataset.cache_resolution overrides)
    num_classes: int
    class_names: tuple[str, ...]
    lut: np.ndarray | None = field(default=None, compare=False)  # file value -> train id or 255


@dataclass
class SegImageSource:
    """Image files, resized to (R, R x aspect) for the cache."""

    root: Path
    paths: list[str]
    aspect: float

    @property
    def labels(self) -> np.ndarray:
        return np.zeros(len(self.paths), dtype=np.int64)

    def __len__(self) -> int:
        return len(self.paths)

    def fingerprint_items(self) -> list[tuple[str, int]]:
        return [(p, os.path.getsize(self.root / p)) for p in self.paths]

    def row(self, i: int, resolution: int) -> np.ndarray:
        from PIL import Image

        h, w = cached_shape(resolution, self.aspect)
        with Image.open(self.root / self.paths[i]) as im:
            im = im.convert("RGB")
            if im.size != (w, h):
                im = im.resize((w, h), Image.BICUBIC)
            return np.ascontiguousarray(np.asarray(im).transpose(2, 0, 1))


@dataclass
class SegMaskSource(SegImageSource):
    """Label PNGs, mapped through `lut` (256 entries: file value -> train id or 255), resized
    with nearest neighbour to the image rows' shape: (1, R, R x aspect). The file list, its
    length and its fingerprint are the image source's."""

    lut: np.ndarray | None = None

    def fingerprint_items(self) -> list[tuple[str, int]]:
        items = super().fingerprint_items()
        if self.lut is not None:  # a changed mapping table is other data: a new cache key
            items.append((f"lut:{hashlib.sha1(self.lut.tobytes()).hexdigest()}", 0))
        return items

    def row(self, i: int, resolution: int) -> np.ndarray:
        from PIL import Image

        h, w = cached_shape(resolution, self.aspect)
        with Image.open(self.root / self.paths[i]) as im:
            m = np.asarray(im)
        if m.ndim == 3:  # an RGB-saved mask: the ids are in the first channel
            m = m[..., 0]
        m = m.astype(np.uint8) if self.lut is None else self.lut[m.astype(np.int64).clip(0, 255)]
        if m.shape != (h, w):
            m = np.asarray(Image.fromarray(m).resize((w, h), Image.NEAREST))
        return np.ascontiguousarray(m[None])


@dataclass
class SegCachedData(CachedData):
    """`CachedData` plus a mask cache per split; `read_masks` gives (B, H, W) uint8."""

    train_masks: CacheReader | None = None
    test_masks: CacheReader | None = None
    task_kind: str = "segmentation"
    class_names: tuple[str, ...] = field(default_factory=tuple)

    def read_masks(self, split: str, idx: torch.Tensor) -> torch.Tensor:
        i = torch.as_tensor(idx).cpu().numpy()
        if split == "test":
            reader = self.test_masks
            if self.test_index is not None:
                i = self.test_index[i]
        elif split == "train":
            reader = self.train_masks
        else:
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        return reader.read(i, pin=self.device.type == "cuda")[:, 0]

    def to(self, device: torch.device) -> SegCachedData:
        device = torch.device(device)
        return replace(
            self, device=device, _train_y=self._train_y.to(device), _test_y=self._test_y.to(device)
        )


def seg_cached_dataset(
    name: str,
    folder: Path,
    pairs: Callable[[str], tuple[list[str], list[str]]],
    layout: SegLayout,
    opts: Any,
    cache_root: Path,
) -> SegCachedData:
    """Build (or check and reuse) the image and mask caches of the train and test splits.

    `pairs(split_name)`: the image and mask paths (relative to `folder`) of the layout's "train"
    or "val" split, in matching order; val is the suite's test split (both datasets' test labels
    are withheld)."""
    images, masks = {}, {}
    for split, split_name in (("train", "train"), ("test", "val")):
        img, lab = pairs(split_name)
        images[split] = SegImageSource(folder, img, layout.aspect)
        masks[split] = SegMaskSource(folder, lab, layout.aspect, layout.lut)
    default_resolution, num_classes, class_names = (
        layout.resolution,
        layout.num_classes,
        layout.class_names,
    )
    require_disk_cache(name, opts, "its masks alone would not fit in memory at full size")
    res = opts.cache_resolution or default_resolution
    crop = opts.image_size or res
    if crop > res:
        raise DatasetError(
            f"{name}: dataset.image_size {crop} (the training crop) is larger than "
            f"dataset.cache_resolution {res} (the cached height); lower the crop or raise the "
            "resolution"
        )
    root = opts.cache_dir or cache_root
    readers = {}
    for split in ("train", "test"):
        for kind, src in (("", images[split]), ("-masks", masks[split])):
            key = CacheKey(name, split + kind, res, source_hash(src.fingerprint_items()))
            folder = build_cache(
                src, key, root, opts.cache_workers, opts.cache_rebuild, opts.progress
            )
            readers[split + kind] = CacheReader(folder)
    return SegCachedData(
        name,
        readers["train"],
        readers["test"],
        num_classes,
        IMAGENET_MEAN,
        IMAGENET_STD,
        crop,
        augment_presets=dict(SEG_AUGMENT),
        train_masks=readers["train-masks"],
        test_masks=readers["test-masks"],
        class_names=class_names,
    )
