"""Caltech-256 (Griffin, Holub, Perona, Caltech tech. report 2007) through torchvision's loader.

Manual download (the archive is not downloaded here). torchvision's `Caltech256` enumerates the
257 folders `001.ak47 ... 256.toad, 257.clutter`; **the clutter folder is dropped**: it is a
background class (images of no object category), so the task has the 256 object classes and
29,780 images. There is no official test split; ours is fixed and seeded per class: in every
class, a permutation seeded by (`caltech256-split`, class index) puts `TEST_FRACTION` (20%,
rounded up) of its images in the test set and the rest in the training pool, the same for every
seed, strategy and machine.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np

from .base import LARGE_AUGMENT, LoadOptions, missing, register_dataset
from .cache import FileSource, cached_dataset, require_disk_cache

TEST_FRACTION = 0.2
CLUTTER = "257.clutter"
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def _folder(root: Path) -> Path:
    return root / "caltech256" / "256_ObjectCategories"


def check_caltech(root: Path, opts: LoadOptions | None = None) -> None:
    folder = _folder(root)
    if not folder.is_dir() or not any(folder.iterdir()):
        raise missing(
            "Caltech-256",
            folder,
            f"{folder}/001.ak47/001_0001.jpg ... {folder}/256.toad/..., {CLUTTER}/ (ignored)",
            "manual download: https://data.caltech.edu/records/20087 (256_ObjectCategories.tar), "
            f"extract it into {root / 'caltech256'}",
        )


def caltech_split(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) positions: per class, a seeded 80/20 split."""
    train, test = [], []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        perm = np.random.default_rng([zlib.crc32(b"caltech256-split"), int(c)]).permutation(idx)
        k = int(np.ceil(TEST_FRACTION * len(idx)))
        test.append(perm[:k])
        train.append(perm[k:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


@register_dataset("caltech256", available=check_caltech)
def load_caltech256(root: Path, opts: LoadOptions):
    require_disk_cache("Caltech-256", opts, "in memory it would not fit at 224 px")
    from torchvision.datasets import Caltech256

    check_caltech(root, opts)
    ds = Caltech256(str(root), download=False)
    keep = [i for i, y in enumerate(ds.y) if ds.categories[y] != CLUTTER]
    base = Path(ds.root) / "256_ObjectCategories"
    # the file name torchvision's __getitem__ opens for item i
    paths = np.array(
        [f"{ds.categories[ds.y[i]]}/{ds.y[i] + 1:03d}_{ds.index[i]:04d}.jpg" for i in keep]
    )
    labels = np.array([ds.y[i] for i in keep], dtype=np.int64)
    num_classes = len([c for c in ds.categories if c != CLUTTER])
    tr, te = caltech_split(labels)
    sources = {
        "train": FileSource(base, list(paths[tr]), labels[tr]),
        "test": FileSource(base, list(paths[te]), labels[te]),
    }
    size = opts.image_size or 224
    res = opts.cache_resolution or max(size, round(size * 256 / 224))
    return cached_dataset(
        "caltech256",
        sources,
        opts.cache_dir or root / "cache",
        res,
        size,
        num_classes,
        IMAGENET_MEAN,
        IMAGENET_STD,
        opts,
        LARGE_AUGMENT,
    )
