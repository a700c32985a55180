"""Your own images as a dataset: `dataset.name: imagefolder`, read from the data root.

The data root ($DATA_ROOT or --data-root) is the folder that holds the images, in one of two
layouts, told apart by what it holds:
- folders: `train/<class>/*`, `test/<class>/*` and, optionally, `val/<class>/*`;
- a table: `labels.csv` (commas) or `labels.tsv` (tabs), one row `path,label[,split]` per image,
  paths relative to the data root, an optional header row `path,label[,split]`; `split` is
  `train`, `test` or `val`. Without a split column a fixed, seeded 20% of every class (rounded
  up) is the test set, the same on every machine and for every seed and strategy.
Classes are the names of train's folders, or the table's labels, sorted: a class's index is its
place in that order. A `val` split joins the training pool: the suite draws its validation set
from the training set (`dataset.val_size` / `dataset.val_fraction`, seeded, shared by every
strategy), so the images are used rather than silently dropped.

Every format Pillow opens is read (by file extension in the folders layout; hidden files and
other files are ignored). The images are grey (one channel) when every image is grey, else RGB
(a grey image among colour ones is repeated over three channels), so one model input fits all.
Every mode Pillow opens is decoded as a viewer shows it (16-bit and float scaled, transparency
over white: pixels.py). Images smaller than the crop are enlarged, with one `warning:` line.

Bad data is refused before any compute and before any run directory exists (the CLI's preflight
runs `check_imagefolder`): an empty class folder, a class in test or val that train lacks,
training images of one class only (a classifier needs two), a table row naming a missing file, a path listed twice, an image that fails to decode (the first
few paths and the count). Decoding every image is the only sure test of the last, so the
preflight decodes each one once and keeps the answer next to the cache (`probe-<hash>.json`,
keyed like the cache by every file's path and size); later runs read it back. With
`dataset.skip_unreadable: true` (`ImageFolderOptions`, read from `LoadOptions.owned`: the
dataset-owned keys the spec passes on, where it does) the unreadable images are left out
instead, listed in a printed line and in `skipped.json` beside each split's cache.

Images are decoded once into the disk cache (cache.py) at `dataset.cache_resolution` (default
`dataset.image_size` x 256/224) and cropped to `dataset.image_size` on the device, as Caltech-256
and ImageNet are: random-resized crop + flip when training augments, the central crop otherwise.
Normalised with ImageNet's channel statistics, which suit natural photographs.
"""

from __future__ import annotations

import csv
import json
import math
import multiprocessing as mp
import os
import posixpath
import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..registry import did_you_mean
from ..storage import FolderLock, write_atomic
from ..words import count, verb
from .base import LARGE_AUGMENT, DatasetError, LoadOptions, missing, register_dataset
from .cache import FileSource, cached_dataset, require_disk_cache, source_hash, square
from .pixels import DECODING, viewable

NAME = "imagefolder"
SPLITS = ("train", "test", "val")
SOURCES = {"train": ("train", "val"), "test": ("test",)}  # cache split: the listed splits in it
TABLES = {"labels.csv": ",", "labels.tsv": "\t"}
TEST_FRACTION = 0.2  # of each class, when a table has no split column
NOTE_FROM = 2000  # a decode check of this many images says so (minutes on a laptop)
SHOWN = 5  # paths named in an error; the count says how many more
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
GREY_MEAN, GREY_STD = (0.449,), (0.226,)  # the mean of ImageNet's three channels


@dataclass(frozen=True)
class ImageFolderOptions:
    """The dataset's own spec keys (`dataset.<field>`)."""

    skip_unreadable: bool = False  # leave out images that fail to decode instead of refusing


def folder_options(opts: LoadOptions) -> ImageFolderOptions:
    """The dataset-owned spec keys, from `LoadOptions.owned` ((key, value) pairs) when the spec
    carries them; the defaults otherwise."""
    given = dict(opts.owned)
    unknown = sorted(set(given) - set(ImageFolderOptions.__dataclass_fields__))
    if unknown:
        own = [f"dataset.{k}" for k in ImageFolderOptions.__dataclass_fields__]
        hint = did_you_mean(f"dataset.{unknown[0]}", own)
        raise DatasetError(
            f"unknown spec key 'dataset.{unknown[0]}'{hint} for dataset '{NAME}'; its own keys: "
            + ", ".join(f"dataset.{k}" for k in ImageFolderOptions.__dataclass_fields__)
        )
    skip = given.get("skip_unreadable", False)
    if not isinstance(skip, bool):
        raise DatasetError(
            f"spec key 'dataset.skip_unreadable' must be true or false, got {skip!r}"
        )
    return ImageFolderOptions(skip_unreadable=skip)


@dataclass(frozen=True)
class Item:
    """One image: its path relative to the data root, its class name, its split."""

    path: str
    label: str
    split: str


@dataclass(frozen=True)
class Listing:
    """What the data root holds, checked: every image and the sorted class names."""

    items: tuple[Item, ...]
    classes: tuple[str, ...]


@dataclass(frozen=True)
class Prepared:
    """The images a run reads: the listing less what was skipped, and the channel count."""

    listing: Listing
    channels: int
    skipped: tuple[tuple[str, str, str], ...]  # (path, split, why) of the images left out
    probe_path: Path
    small: tuple[str, ...] = ()  # images whose shorter side is below the crop (`small_images`)


def _some(paths: Sequence[str]) -> str:
    """The first few paths and how many more: what an error names."""
    shown = ", ".join(paths[:SHOWN])
    more = len(paths) - SHOWN
    return f"{shown} and {more} more" if more > 0 else shown


def _count(n: int, what: str) -> str:
    return count(n, what)


# ----------------------------------------------------------------------------- listing
def image_extensions() -> frozenset[str]:
    """File extensions of every format Pillow can open (not those it can only write)."""
    from PIL import Image

    Image.init()
    return frozenset(e for e, fmt in Image.registered_extensions().items() if fmt in Image.OPEN)


def _layout(root: Path) -> str:
    """'folders' or the table's file name; the missing-data error when the root holds neither."""
    tables = [name for name in TABLES if (root / name).is_file()]
    has_folders = (root / "train").is_dir()
    if has_folders and tables:
        raise DatasetError(
            f"{root} holds both train/ and {tables[0]}: keep one layout (the folders or the table)"
        )
    if len(tables) > 1:
        raise DatasetError(f"{root} holds both labels.csv and labels.tsv: keep one")
    if has_folders:
        return "folders"
    if tables:
        return tables[0]
    raise missing(
        "your image folder",
        root,
        f"{root}/train/<class>/*.jpg and {root}/test/<class>/*.jpg (optional {root}/val/<class>/), "
        f"or {root}/labels.csv with rows path,label[,split] (paths relative to {root})",
        "your own images, any format Pillow reads",
    )


def _visible(path: Path) -> bool:
    return not path.name.startswith(".")


def list_folders(root: Path) -> list[Item]:
    """train/<class>/*, test/<class>/*, val/<class>/*: the images, class folder by class folder."""
    if not (root / "test").is_dir():
        raise DatasetError(
            f"{root}/test/ is missing: the folders layout needs train/<class>/ and test/<class>/ "
            "(the test set measures every cycle's model)"
        )
    exts = image_extensions()
    items, empty = [], []
    for split in SPLITS:
        folder = root / split
        if not folder.is_dir():
            continue
        loose = sorted(p.name for p in folder.iterdir() if _visible(p) and not p.is_dir())
        if loose:
            raise DatasetError(
                f"{folder} holds {_count(len(loose), 'file')} outside class folders "
                f"({_some(loose)}); every image goes in {folder}/<class>/"
            )
        classes = sorted(p.name for p in folder.iterdir() if _visible(p) and p.is_dir())
        if not classes:
            raise DatasetError(f"{folder} holds no class folders; expected {folder}/<class>/*.jpg")
        for cls in classes:
            files = sorted(
                f.relative_to(root).as_posix()
                for f in (folder / cls).rglob("*")
                if _visible(f) and f.suffix.lower() in exts and f.is_file()
            )
            if not files:
                empty.append(f"{split}/{cls}/")
            items += [Item(f, cls, split) for f in files]
    if empty:
        raise DatasetError(
            f"{_count(len(empty), 'class folder')} under {root} "
            f"{verb(len(empty), 'holds', 'hold')} no images: {_some(empty)}; put images in "
            f"{verb(len(empty), 'it or remove it', 'them or remove them')}"
        )
    return items


def list_table(root: Path, name: str) -> list[Item]:
    """labels.csv / labels.tsv: one row `path,label[,split]` per image."""
    table = root / name
    with open(table, newline="", encoding="utf-8-sig") as f:
        rows = [
            (n, [c.strip() for c in r])
            for n, r in enumerate(csv.reader(f, delimiter=TABLES[name]), 1)
        ]
    rows = [(n, r) for n, r in rows if any(r)]
    if rows and [c.lower() for c in rows[0][1][:2]] == ["path", "label"]:
        header = [c.lower() for c in rows[0][1]]
        if header not in (["path", "label"], ["path", "label", "split"]):
            raise DatasetError(f"{table}: the header must be path,label or path,label,split")
        rows = rows[1:]
    if not rows:
        raise DatasetError(f"{table} lists no images; one row per image: path,label[,split]")
    width = len(rows[0][1])
    for n, r in rows:
        if len(r) != width or width not in (2, 3):
            raise DatasetError(
                f"{table} line {n}: {len(r)} columns; every row needs path,label or "
                f"path,label,split ({width} in the first row)"
            )
        if not r[0] or not r[1]:
            raise DatasetError(f"{table} line {n}: an empty path or label")
        if width == 3 and r[2] not in SPLITS:
            raise DatasetError(f"{table} line {n}: split {r[2]!r}; valid: {', '.join(SPLITS)}")
    paths = [posixpath.normpath(r[0]) for _, r in rows]
    twice = sorted(p for p, k in Counter(paths).items() if k > 1)
    if twice:
        raise DatasetError(
            f"{table} lists {_count(len(twice), 'path')} more than once: {_some(twice)}; "
            "one row per image"
        )
    gone = [p for p in paths if not (root / p).is_file()]
    if gone:
        raise DatasetError(
            f"{table} names {_count(len(gone), 'file')} that {verb(len(gone), 'does', 'do')} "
            f"not exist under {root}: {_some(gone)}"
        )
    labels = [r[1] for _, r in rows]
    splits = [r[2] for _, r in rows] if width == 3 else seeded_split(labels, table)
    return [Item(p, y, s) for p, y, s in zip(paths, labels, splits, strict=True)]


def seeded_split(labels: Sequence[str], table: Path) -> list[str]:
    """'train' or 'test' per row: in every class, a permutation seeded by the class name puts
    `TEST_FRACTION` of its images (rounded up) in the test set."""
    by_class: dict[str, list[int]] = {}
    for i, y in enumerate(labels):
        by_class.setdefault(y, []).append(i)
    small = sorted(y for y, idx in by_class.items() if len(idx) < 2)
    if small:
        raise DatasetError(
            f"{table} has no split column, so a fixed {TEST_FRACTION:.0%} of each class is the "
            f"test set, but {_count(len(small), 'class')} {'has' if len(small) == 1 else 'have'} "
            f"one image: {_some(small)}; add images or a split column"
        )
    out = ["train"] * len(labels)
    for y, idx in by_class.items():
        rng = np.random.default_rng([zlib.crc32(b"imagefolder-split"), zlib.crc32(y.encode())])
        for i in rng.permutation(idx)[: math.ceil(TEST_FRACTION * len(idx))]:
            out[i] = "test"
    return out


def check_classes(items: Sequence[Item], where: str) -> tuple[str, ...]:
    """The sorted class names of the training split; a class only test or val has is an error."""
    classes = {s: sorted({it.label for it in items if it.split == s}) for s in SPLITS}
    if not classes["train"]:
        raise DatasetError(f"{where}: no training images")
    if not classes["test"]:
        raise DatasetError(f"{where}: no test images")
    if len(classes["train"]) < 2:
        raise DatasetError(
            f"{where}: the training images are all of one class ('{classes['train'][0]}'); the "
            "task model is a classifier and learns to tell classes apart, so it needs at least "
            "two (with one, every answer is right and the accuracy says nothing): add a folder "
            "(or labels) of another class"
        )
    for split in ("test", "val"):
        extra = sorted(set(classes[split]) - set(classes["train"]))
        if extra:
            raise DatasetError(
                f"{where}: {_count(len(extra), 'class')} in {split} but not in train: "
                f"{_some(extra)}; a model cannot learn a class it never sees labeled"
            )
    return tuple(classes["train"])


def list_images(root: Path) -> Listing:
    """Every image under `root`, with its class and split, checked (no decoding)."""
    where = _layout(root)
    items = list_folders(root) if where == "folders" else list_table(root, where)
    label = f"{root}/" if where == "folders" else str(root / where)
    return Listing(tuple(items), check_classes(items, label))


# ----------------------------------------------------------------------------- decoding once
def decode(path: str | Path):
    """The decoded image as a viewer shows it, 8-bit grey (`L`) or `RGB`: upright (EXIF
    orientation applied: phones store photographs sideways and say so in a tag), every mode
    Pillow opens scaled and composited as `pixels.viewable` says (16-bit, float, transparent,
    palette, 1-bit, CMYK, ...)."""
    from PIL import Image, ImageOps

    with Image.open(path) as im:
        im.load()
        ImageOps.exif_transpose(im, in_place=True)  # in place: the file's own tags stay
        out = viewable(im)
        return out.copy() if out is im else out  # a closed file's image cannot be read


def _probe_one(path: str) -> tuple[str | None, bool, int]:
    """(why it fails to decode or None, whether it is grey, its shorter side in pixels): the
    cache's own decoding."""
    try:
        im = decode(path)
        im.convert("RGB")
        return None, im.mode == "L", min(im.size)
    except Exception as e:  # noqa: BLE001 - Pillow raises many types for a bad file
        return f"{type(e).__name__}: {e}".splitlines()[0][:200], False, 0


def _probe_all(root: Path, paths: Sequence[str], workers: int | None, progress: bool):
    full = [str(root / p) for p in paths]
    workers = max(1, min(workers or os.cpu_count() or 1, len(full) // 64))
    bar = dict(total=len(full), desc=f"{NAME}: decode check", unit="img", disable=not progress)
    if workers == 1:
        return list(tqdm(map(_probe_one, full), **bar))
    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    with ctx.Pool(workers) as pool:
        return list(tqdm(pool.imap(_probe_one, full, chunksize=32), **bar))


def _cache_root(root: Path, opts: LoadOptions) -> Path:
    return Path(opts.cache_dir or root / "cache")


def probe(root: Path, listing: Listing, opts: LoadOptions) -> tuple[dict, Path]:
    """Decode every image once; the answer is kept (by the files' paths and sizes) and reused."""
    files = [(it.path, os.path.getsize(root / it.path)) for it in listing.items]
    key = source_hash(files)
    folder = _cache_root(root, opts) / NAME
    path = folder / f"probe-{key[:16]}.json"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        # seeds sharing a data root decode once
        with FolderLock(folder, wait=True, lock_file=folder / ".probe.lock"):
            if path.is_file():
                found = json.loads(path.read_text())
                if found.get("source_hash") == key and found.get("decoding") == DECODING:
                    return found, path
            if len(files) >= NOTE_FROM:
                print(f"{NAME}: decoding {len(files)} images once to check them", flush=True)
            results = _probe_all(root, [p for p, _ in files], opts.cache_workers, opts.progress)
            pairs = list(zip((p for p, _ in files), results, strict=True))
            found = {
                "source_hash": key,
                "decoding": DECODING,
                "images": len(files),
                "grey": [p for p, (_, grey, _) in pairs if grey],
                "unreadable": {p: bad for p, (bad, _, _) in pairs if bad},
                "shorter_side": {p: side for p, (bad, _, side) in pairs if not bad},
            }
            write_atomic(path, json.dumps(found, indent=1, sort_keys=True).encode())
    except OSError as e:
        raise DatasetError(
            f"{NAME}: cannot write under {folder} ({e.strerror or e}); set dataset.cache_dir "
            "to a writable folder"
        ) from e
    return found, path


def prepare(root: Path, opts: LoadOptions, options: ImageFolderOptions) -> Prepared:
    """List, check and decode-check the images; leave out the unreadable ones when asked to."""
    listing = list_images(root)
    found, probe_path = probe(root, listing, opts)
    bad, items = found["unreadable"], listing.items
    if bad and not options.skip_unreadable:
        # the spec key is offered only where the spec can carry it (`folder_options`)
        skip = ", or set dataset.skip_unreadable: true"
        raise DatasetError(
            f"{_count(len(bad), 'image')} under {root} failed to decode: "
            + _some([f"{p} ({why})" for p, why in sorted(bad.items())])
            + f"; replace or remove them{skip} (the full list: {probe_path})"
        )
    if bad:
        kept = tuple(it for it in listing.items if it.path not in bad)
        label = f"{root} without its unreadable images"
        listing = Listing(kept, check_classes(kept, label))
    grey = set(found["grey"])
    channels = 1 if all(it.path in grey for it in listing.items) else 3
    skipped = tuple((it.path, it.split, bad[it.path]) for it in items if it.path in bad)
    small = small_images(found, [it.path for it in listing.items], opts.image_size or 224)
    return Prepared(listing, channels, skipped, probe_path, small)


def small_images(found: dict, paths: Sequence[str], crop: int) -> tuple[str, ...]:
    """The images (of `paths`) whose shorter side is below `crop` pixels, by the decode check."""
    side = found.get("shorter_side", {})
    return tuple(p for p in paths if side.get(p, crop) < crop)


def small_warning(small: Sequence[str], crop: int, resolution: int) -> str:
    """The `warning:` line for images smaller than the crop, and what is done with them."""
    return (
        f"warning: {NAME}: {_count(len(small), 'image')} smaller than the {crop}-pixel crop "
        f"(shorter side): {_some(list(small))}; each is enlarged (bicubic) to a shorter side of "
        f"{resolution} pixels and cropped like the rest, so it looks blurred (a 1 x 1 image is "
        "one flat colour)"
    )


def check_imagefolder(root: Path, opts: LoadOptions | None = None) -> None:
    """The preflight: every check above, before a run directory exists (decodes once per data)."""
    opts = opts or LoadOptions()
    require_disk_cache(NAME, opts, "your images are decoded once into it")
    prepare(root, opts, folder_options(opts))


# ----------------------------------------------------------------------------- the cache
@dataclass
class PhotoSource(FileSource):
    """Image files decoded to `channels` (1: grey, 3: RGB); labels and channels are part of the
    cache key, so a relabelled table or a changed channel count never reuses a stale cache."""

    channels: int = 3

    def fingerprint_items(self) -> list[tuple[str, int]]:
        files = super().fingerprint_items()
        labelled = [
            (f"{p}\t{int(y)}", size) for (p, size), y in zip(files, self.labels, strict=True)
        ]
        # a cache decoded under an older rule (16-bit images clipped) is never reused
        return [*labelled, ("\tchannels", self.channels), ("\tdecoding", DECODING)]

    def load(self, i: int) -> np.ndarray:
        im = decode(self.root / self.paths[i])
        return np.asarray(im.convert("L" if self.channels == 1 else "RGB"))

    def row(self, i: int, resolution: int) -> np.ndarray:
        return square(self.load(i), resolution)[: self.channels]  # grey: one of three equal planes


def sources(root: Path, prepared: Prepared) -> dict[str, PhotoSource]:
    """The train (train + val) and test sources; labels are indices into the sorted classes."""
    index = {c: i for i, c in enumerate(prepared.listing.classes)}
    out = {}
    for split, members in SOURCES.items():
        items = [it for it in prepared.listing.items if it.split in members]
        labels = np.array([index[it.label] for it in items], dtype=np.int64)
        out[split] = PhotoSource(root, [it.path for it in items], labels, prepared.channels)
    return out


def _write_skipped(folder: Path, prepared: Prepared, members: Sequence[str]) -> None:
    """`skipped.json` beside a split's cache: the images it lacks, and why."""
    rows = {p: why for p, split, why in prepared.skipped if split in members}
    body = json.dumps({"unreadable": rows}, indent=1, sort_keys=True)
    write_atomic(folder / "skipped.json", body.encode())


@register_dataset(NAME, available=check_imagefolder, options=ImageFolderOptions)
def load_imagefolder(root: Path, opts: LoadOptions, options: ImageFolderOptions | None = None):
    require_disk_cache(NAME, opts, "your images are decoded once into it")
    prepared = prepare(root, opts, options or folder_options(opts))
    if prepared.skipped:
        paths = [p for p, _, _ in prepared.skipped]
        print(
            f"warning: {NAME}: left out {_count(len(paths), 'unreadable image')} "
            f"(dataset.skip_unreadable: true): {_some(paths)}; the list: {prepared.probe_path}",
            flush=True,
        )
    size = opts.image_size or 224
    res = opts.cache_resolution or max(size, round(size * 256 / 224))
    if prepared.small:
        print(small_warning(prepared.small, size, res), flush=True)
    rgb = prepared.channels == 3
    data = cached_dataset(
        NAME,
        sources(root, prepared),
        _cache_root(root, opts),
        res,
        size,
        len(prepared.listing.classes),
        IMAGENET_MEAN if rgb else GREY_MEAN,
        IMAGENET_STD if rgb else GREY_STD,
        opts,
        LARGE_AUGMENT,
    )
    if prepared.skipped:
        for split, members in SOURCES.items():
            _write_skipped(getattr(data, split).folder, prepared, members)
    return data


def class_names(root: str | Path) -> tuple[str, ...]:
    """The classes of the images under `root`, in label order (index = position)."""
    return list_images(Path(root)).classes
