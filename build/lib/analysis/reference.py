"""The paper's own numbers, shipped with the package so figures can be read against them.

The files live in `analysis/reference_data/` (see its README for provenance). Every row keeps where it
came from and how far it is verified, so an approximate point is never mistaken for an exact one.
"""

from __future__ import annotations

import re
from importlib import resources

import pandas as pd

__all__ = ["load_reference", "load_reference_raw", "dataset_key", "REFERENCE_COLUMNS"]

REFERENCE_COLUMNS = [
    "dataset",
    "method",
    "labeled_percent",
    "metric",
    "mean",
    "std",
    "source",
    "verification_status",
    "kind",
    "figure",
    "note",
]
_FILES = ["vaal_paper_curves.csv", "vaal_secondary_reference_points.csv"]


def dataset_key(name: str) -> str:
    """Spelling-independent dataset key: 'Caltech-256' and 'caltech256' both give 'caltech256'."""
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def _read(name: str) -> pd.DataFrame:
    with resources.files("analysis").joinpath("reference_data", name).open("r") as f:
        return pd.read_csv(f)


def load_reference(dataset: str | None = None) -> pd.DataFrame:
    """Paper reference points (mean/std in %), optionally for one dataset (any spelling)."""
    ref = pd.concat([_read(name) for name in _FILES], ignore_index=True)
    for col in REFERENCE_COLUMNS:
        if col not in ref:
            ref[col] = None
    ref = ref[REFERENCE_COLUMNS]
    if dataset is not None:
        ref = ref[ref["dataset"].map(dataset_key) == dataset_key(dataset)]
    return ref.reset_index(drop=True)


def load_reference_raw() -> pd.DataFrame:
    """Every ImageNet run value behind the paper curve (unaveraged, from the npy arrays)."""
    return _read("vaal_imagenet_npy_raw.csv")
