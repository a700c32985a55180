"""Shared fixtures: one small slice of the real MNIST, loaded once per session (per worker)."""

from __future__ import annotations

import os
from pathlib import Path

# One OpenMP thread per process: `make test` runs two pytest-xdist workers on two cores, and
# each worker's own runs and subprocesses must not oversubscribe them (spinning OpenMP threads
# that outnumber cores slow tiny models down tenfold). Set before torch is imported anywhere.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))

REPO = Path(__file__).resolve().parent.parent
DATA_ROOT = Path(os.environ.get("DATA_ROOT") or REPO / "data")


@pytest.fixture(scope="session")
def mnist():
    from vaal_core.datasets import load_dataset

    return load_dataset("mnist", DATA_ROOT, image_size=32)


@pytest.fixture
def no_md5(monkeypatch):
    """Bypass only torchvision's md5 comparison (file existence is still checked): the fixture
    datasets are written in the real layouts but are not the real files."""
    import torchvision.datasets.cifar as cifar
    import torchvision.datasets.imagenet as imagenet

    def exists(fpath, md5=None):
        return os.path.isfile(fpath)

    monkeypatch.setattr(cifar, "check_integrity", exists)
    monkeypatch.setattr(imagenet, "check_integrity", exists)


def pytest_collection_modifyitems(config, items):
    """The long serial groups first (SLURM, notebook, GPU-check dry run: each runs on one worker,
    one test after another), so the other worker takes the many short tests meanwhile instead of
    waiting at the end for one worker to finish a group it was handed last."""
    items.sort(key=lambda item: item.get_closest_marker("xdist_group") is None)
