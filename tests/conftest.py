"""Shared fixtures: one small slice of the real MNIST, loaded once per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DATA_ROOT = Path(os.environ.get("DATA_ROOT") or REPO / "data")


@pytest.fixture(scope="session")
def mnist():
    from vaal_core.data import load_dataset

    return load_dataset("mnist", DATA_ROOT, image_size=32)
