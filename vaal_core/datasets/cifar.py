"""CIFAR-10 and CIFAR-100 (Krizhevsky, 2009) through torchvision's loaders.

In memory by default (150 MB of uint8); `dataset.storage: cache` sends the same arrays through
the disk cache instead (what the fixture test exercises for the large-dataset path).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .base import (
    SMALL_AUGMENT,
    DatasetError,
    ImageData,
    LoadOptions,
    missing,
    register_dataset,
    resize_uint8,
)
from .cache import ArraySource, cached_dataset

_INFO = {
    # name: (torchvision class, folder, classes, mean, std, url)
    "cifar10": (
        "CIFAR10",
        "cifar-10-batches-py",
        10,
        (0.4914, 0.4822, 0.4465),
        (0.2470, 0.2435, 0.2616),
        "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
    ),
    "cifar100": (
        "CIFAR100",
        "cifar-100-python",
        100,
        (0.5071, 0.4865, 0.4409),
        (0.2673, 0.2564, 0.2762),
        "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
    ),
}


def _cls(name: str):
    import torchvision.datasets as tvd

    return getattr(tvd, _INFO[name][0])


def _expected(name: str, root: Path) -> tuple[Path, list[str]]:
    cls = _cls(name)
    files = [f for f, _ in cls.train_list + cls.test_list] + [cls.meta["filename"]]
    return root / _INFO[name][1], files


def _error(name: str, root: Path, cause: str) -> DatasetError:
    folder, files = _expected(name, root)
    return missing(
        f"{name.upper()} ({cause})",
        folder,
        f"{folder}/{{{', '.join(files)}}} (the python-pickle release, as extracted)",
        f"downloaded automatically when online (dataset.download: true); offline, fetch "
        f"{_INFO[name][5]} elsewhere and extract it into {root}",
    )


def check_cifar(name: str, root: Path, opts: LoadOptions) -> None:
    """Present, or downloadable now; else the missing-data error (no decoding)."""
    folder, files = _expected(name, root)
    if all((folder / f).is_file() for f in files):
        return
    if not opts.allow_download():
        raise _error(name, root, "download disabled: dataset.download false or $VAAL_NO_DOWNLOAD=1")
    try:
        _cls(name)(str(root), train=True, download=True)
    except Exception as e:  # noqa: BLE001 - offline, DNS, HTTP, disk: the same advice
        raise _error(name, root, f"download failed: {type(e).__name__}: {e}") from e


def _load(name: str, root: Path, opts: LoadOptions):
    check_cifar(name, root, opts)
    cls = _cls(name)
    try:
        train, test = cls(str(root), train=True), cls(str(root), train=False)
    except RuntimeError as e:  # torchvision: "not found or corrupted" (md5 mismatch)
        raise _error(name, root, f"torchvision refused the files: {e}") from e
    _, tv_name, k, mean, std, _ = _INFO[name]
    size = opts.image_size or 32
    if opts.storage == "cache":
        folder = root / tv_name
        files = sorted((p.name, p.stat().st_size) for p in folder.iterdir() if p.is_file())
        sources = {
            "train": ArraySource(train.data, np.asarray(train.targets), files),
            "test": ArraySource(test.data, np.asarray(test.targets), files),
        }
        res = max(opts.cache_resolution or 32, size)
        return cached_dataset(
            name,
            sources,
            opts.cache_dir or root / "cache",
            res,
            size,
            k,
            mean,
            std,
            opts,
            SMALL_AUGMENT,
        )

    def nchw(a: np.ndarray) -> torch.Tensor:
        return resize_uint8(torch.from_numpy(a).permute(0, 3, 1, 2).contiguous(), size)

    return ImageData(
        name,
        nchw(train.data),
        torch.as_tensor(train.targets, dtype=torch.long),
        nchw(test.data),
        torch.as_tensor(test.targets, dtype=torch.long),
        k,
        mean,
        std,
    )


for _name in _INFO:
    register_dataset(_name, available=lambda root, opts, n=_name: check_cifar(n, root, opts))(
        lambda root, opts, n=_name: _load(n, root, opts)
    )
