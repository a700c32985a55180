"""Datasets by name: real torchvision loaders, in memory (small) or through a disk cache (large)."""

from . import bdd100k, caltech256, cifar, cityscapes, imagefolder, imagenet, mnist  # noqa: F401 - registration
from .base import (
    DATASETS,
    DatasetError,
    DataSource,
    ImageData,
    LoadOptions,
    check_dataset_available,
    check_dataset_name,
    check_dataset_options,
    check_spec_dataset,
    dataset_from_spec,
    dataset_task_kind,
    default_data_root,
    load_dataset,
    options_from_spec,
    register_dataset,
    resize_uint8,
)
from .cache import CachedData, CacheKey, CacheReader, build_cache
from .mnist import mnist_from_csv_package

__all__ = [
    "DATASETS",
    "DatasetError",
    "DataSource",
    "ImageData",
    "LoadOptions",
    "CachedData",
    "CacheKey",
    "CacheReader",
    "build_cache",
    "check_dataset_available",
    "check_dataset_name",
    "check_dataset_options",
    "check_spec_dataset",
    "options_from_spec",
    "dataset_from_spec",
    "dataset_task_kind",
    "default_data_root",
    "load_dataset",
    "register_dataset",
    "resize_uint8",
    "mnist_from_csv_package",
]
