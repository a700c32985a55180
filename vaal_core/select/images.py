"""A round's images as the task model reads them: decoded once into `<out>/cache/`, as the
`imagefolder` dataset decodes them."""

from __future__ import annotations

import numpy as np

from ..errors import DatasetError
from ..words import count
from .inputs import Request, some_paths


# ----------------------------------------------------------------------------- data
def round_data(req: Request, paths: list[str]):
    """The images as a `CachedData` (decoded once into `<out>/cache/`), labels of the labeled
    images as indices of the sorted class names and -1 for the rest (which nothing may read)."""
    import torch

    from ..datasets.base import LARGE_AUGMENT, LoadOptions
    from ..datasets.cache import CachedData, CacheKey, CacheReader, build_cache, source_hash
    from ..datasets.imagefolder import (
        GREY_MEAN,
        GREY_STD,
        IMAGENET_MEAN,
        IMAGENET_STD,
        Item,
        Listing,
        PhotoSource,
        probe,
        small_images,
        small_warning,
    )

    base, ds = req.images.base, req.spec.dataset
    opts = LoadOptions(cache_dir=req.out / "cache", progress=req.progress)
    listing = Listing(tuple(Item(p, "", "train") for p in paths), ())
    found, probe_path = probe(base, listing, opts)
    if found["unreadable"]:
        bad = sorted(found["unreadable"].items())
        named = some_paths([f"{p} ({why})" for p, why in bad])
        raise DatasetError(
            f"{count(len(bad), 'image')} failed to decode: {named}; "
            f"replace them or leave them out of --images (the full list: {probe_path})"
        )
    channels = 1 if len(found["grey"]) == len(paths) else 3
    size = ds.image_size or 224
    resolution = ds.cache_resolution or max(size, round(size * 256 / 224))
    small = small_images(found, paths, size)
    if small:  # enlarged like every image: said once, before any compute
        print(small_warning(small, size, resolution), flush=True)
    source = PhotoSource(base, paths, np.zeros(len(paths), np.int64), channels)
    key = CacheKey("images", "all", resolution, source_hash(source.fingerprint_items()))
    folder = build_cache(
        source, key, req.out / "cache" / key.source_hash[:12], None, True, req.progress
    )  # rebuilt, never refused: the folder is named by the images it holds
    reader = CacheReader(folder)
    classes = {c: i for i, c in enumerate(req.labels.classes)}
    y = torch.tensor([classes.get(req.labels.rows.get(p, ""), -1) for p in paths])
    rgb = channels == 3
    return CachedData(
        "images",
        reader,
        reader,
        len(classes),
        IMAGENET_MEAN if rgb else GREY_MEAN,
        IMAGENET_STD if rgb else GREY_STD,
        size,
        augment_presets=dict(LARGE_AUGMENT),
        test_index=np.empty(0, np.int64),  # no test set: selection needs none
        _train_y=y,
    )
