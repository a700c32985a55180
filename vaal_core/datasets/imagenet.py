"""ImageNet-1k (Russakovsky et al., IJCV 2015) through torchvision: `ImageNet` or `ImageFolder`.

Two accepted layouts under `<root>/imagenet/` (manual download; never downloaded here):
1. torchvision's: `ILSVRC2012_devkit_t12.tar.gz` (its `data/meta.mat` names the classes) next to
   `train/<wnid>/*.JPEG` and `val/<wnid>/*.JPEG` (torchvision sorts the val tarball into class
   folders itself when it finds `ILSVRC2012_img_val.tar` instead of `val/`);
2. a plain ImageFolder root: `train/<class>/*` and `val/<class>/*` with the same class folders.
The test set is the official validation split (50,000 images), as in the paper.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..words import count
from .base import LARGE_AUGMENT, DatasetError, LoadOptions, missing, register_dataset
from .cache import FileSource, cached_dataset, require_disk_cache

DEVKIT = "ILSVRC2012_devkit_t12.tar.gz"
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def _folder(root: Path) -> Path:
    return root / "imagenet"


def check_imagenet(root: Path, opts: LoadOptions | None = None) -> None:
    folder = _folder(root)
    has_val = (folder / "val").is_dir() or (folder / "ILSVRC2012_img_val.tar").is_file()
    if not ((folder / "train").is_dir() and has_val):
        raise missing(
            "ImageNet (ILSVRC-2012)",
            folder,
            f"{folder}/train/n01440764/*.JPEG ..., {folder}/val/n01440764/*.JPEG ... and "
            f"{folder}/{DEVKIT} (torchvision ImageNet); or train/ and val/ class folders alone "
            "(ImageFolder)",
            "manual download (registration): https://image-net.org/download-images "
            f"(ILSVRC2012_img_train.tar, ILSVRC2012_img_val.tar, {DEVKIT})",
        )


def _split(folder: Path, split: str) -> tuple[list[str], np.ndarray, list[str]]:
    """(paths relative to `folder`, labels, class list) through torchvision's own classes."""
    from torchvision.datasets import ImageFolder, ImageNet

    if (folder / DEVKIT).is_file() or (folder / "meta.bin").is_file():
        ds = ImageNet(str(folder), split=split)
        classes = list(ds.wnids)
    else:
        ds = ImageFolder(str(folder / split))
        classes = list(ds.classes)
    paths = [str(Path(p).relative_to(folder)) for p, _ in ds.samples]
    return paths, np.asarray(ds.targets, dtype=np.int64), classes


@register_dataset("imagenet", available=check_imagenet)
def load_imagenet(root: Path, opts: LoadOptions):
    require_disk_cache("ImageNet", opts, "in memory it would not fit at 224 px")
    check_imagenet(root, opts)
    folder = _folder(root)
    try:
        tr_paths, tr_y, classes = _split(folder, "train")
        te_paths, te_y, te_classes = _split(folder, "val")
    except RuntimeError as e:  # torchvision: missing or corrupt devkit/archives
        raise DatasetError(f"ImageNet under {folder} could not be read by torchvision: {e}") from e
    if classes != te_classes:
        raise DatasetError(
            f"ImageNet: train/ has {count(len(classes), 'class')} and val/ {len(te_classes)}, or other "
            f"names; both must hold the same class folders ({folder})"
        )
    sources = {
        "train": FileSource(folder, tr_paths, tr_y),
        "test": FileSource(folder, te_paths, te_y),
    }
    size = opts.image_size or 224
    res = opts.cache_resolution or max(size, round(size * 256 / 224))
    return cached_dataset(
        "imagenet",
        sources,
        opts.cache_dir or root / "cache",
        res,
        size,
        len(classes),
        MEAN,
        STD,
        opts,
        LARGE_AUGMENT,
    )
