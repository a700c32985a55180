"""Decode once into a fixed-resolution uint8 array on disk; read random batches with no decoding.

Layout of one cache (one dataset split at one resolution), under `<cache_dir>/<dataset>/<split>-<R>px/`:
- `images.npy`: (N, C, R, R) uint8, a plain NumPy `.npy` file (memory-mappable with
  `np.load(mmap_mode="r")`); written with `pwrite` by a pool of decoding processes;
- `labels.npy`: (N,) int64;
- `manifest.json`: the key {dataset, split, resolution, source hash} plus shape and chunking;
- `done/<chunk>`: one marker per decoded chunk holding the SHA-1 of the chunk's bytes, written
  (atomically) only after those bytes are on disk: an interrupted build resumes at the first chunk
  without a marker and decodes no finished chunk again; a reader verifies each chunk against its
  checksum the first time the process touches it, so a chunk damaged on disk is rebuilt from the
  source (or refused), never served as images.
The source hash is the SHA-1 of the sorted (relative path, size) list of the source files: a
cache whose key differs from the data it is asked to serve is refused (or rebuilt when
`dataset.cache_rebuild: true`), never silently reused.

Why a flat array rather than litdata's chunked format: active learning reads arbitrary index
subsets that change every cycle (labeled set, unlabeled pool, a query's candidates), and a
fixed-stride array turns index i into one `pread` at offset i x row bytes, no deserialisation and
no chunk cache to size; litdata's strength (streaming shuffled chunks from object storage) is not
the access pattern here, and the format needs no dependency. This is FFCV's "decode once, augment
on the device" idea (Leclerc et al., CVPR 2023) without its variable-resolution JPEG storage.

Reads use `os.preadv` into a fresh (pinned, when CUDA) buffer rather than indexing a memory map:
pages of a mapped file count toward the process's RSS until the kernel reclaims them, so an
epoch over ImageNet through `np.memmap` would grow the RSS towards the file size; `pread` goes
through the page cache, which the kernel bounds, and keeps the RSS flat (benchmarks/bench_data.py).
"""

from __future__ import annotations

import errno
import hashlib
import json
import multiprocessing as mp
import os
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from .. import failpoints
from ..errors import StorageError
from ..storage import FolderLock, storage_error, write_atomic
from .base import LARGE_AUGMENT, DatasetError, LoadOptions

CACHE_VERSION = 2  # 2: chunk markers hold a checksum (version-1 caches have empty markers)
CHUNK = 512  # images per done-marker: small enough to lose little work on a kill
VERIFY_BLOCK = 8 << 20  # bytes read at a time when a chunk is checked: bounds the reader's memory
FS_BLOCK = 4096  # a marker (41 bytes) occupies one filesystem block on ext4/xfs


# ----------------------------------------------------------------------------- sources
@dataclass
class FileSource:
    """Image files to decode (JPEG/PNG, any size) and their labels."""

    root: Path  # paths are keyed relative to it, so moving the data does not invalidate the cache
    paths: Sequence[str]
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.paths)

    def fingerprint_items(self) -> list[tuple[str, int]]:
        return [(p, os.path.getsize(self.root / p)) for p in self.paths]

    def load(self, i: int) -> np.ndarray:
        from PIL import Image

        with Image.open(self.root / self.paths[i]) as im:
            return np.asarray(im.convert("RGB"))

    def row(self, i: int, resolution: int) -> np.ndarray:
        """Image i as the cache stores it: a (C, R, R) square."""
        return square(self.load(i), resolution)


@dataclass
class ArraySource:
    """Images already decoded in memory (CIFAR's pickles), keyed by the files they came from."""

    images: np.ndarray  # (N, H, W, C) uint8
    labels: np.ndarray
    files: list[tuple[str, int]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.images)

    def fingerprint_items(self) -> list[tuple[str, int]]:
        return list(self.files)

    def load(self, i: int) -> np.ndarray:
        return self.images[i]

    def row(self, i: int, resolution: int) -> np.ndarray:
        return square(self.load(i), resolution)


def source_hash(items: list[tuple[str, int]]) -> str:
    h = hashlib.sha1()
    for path, size in sorted(items):
        h.update(f"{path}\t{size}\n".encode())
    return h.hexdigest()


def square(img: np.ndarray, size: int) -> np.ndarray:
    """Resize the shorter side to `size` (bicubic, antialiased), centre-crop a square: (C, R, R)."""
    from PIL import Image

    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    h, w = img.shape[:2]
    if (h, w) != (size, size):
        s = size / min(h, w)
        nh, nw = max(size, round(h * s)), max(size, round(w * s))
        im = Image.fromarray(img).resize((nw, nh), Image.BICUBIC)
        top, left = (nh - size) // 2, (nw - size) // 2
        img = np.asarray(im)[top : top + size, left : left + size]
    return np.ascontiguousarray(img.transpose(2, 0, 1))


# ----------------------------------------------------------------------------- build
@dataclass(frozen=True)
class CacheKey:
    dataset: str
    split: str
    resolution: int
    source_hash: str
    version: int = CACHE_VERSION

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


_WORKER: dict = {}


def _init_worker(
    source, images_path: str, offset: int, resolution: int, done_dir: str, chunk: int
) -> None:
    torch.set_num_threads(1)
    _WORKER.update(
        source=source,
        fd=os.open(images_path, os.O_WRONLY),
        offset=offset,
        res=resolution,
        done=Path(done_dir),
        chunk=chunk,
    )


def _decode_chunk(chunk: int) -> int:
    """Decode one chunk, write it with pwrite (no mapping: the RSS stays bounded), fsync, then
    write its marker holding the SHA-1 of the bytes written."""
    w = _WORKER
    n, size = len(w["source"]), w["chunk"]
    lo, hi = chunk * size, min(n, (chunk + 1) * size)
    digest = hashlib.sha1()
    for i in range(lo, hi):
        data = w["source"].row(i, w["res"]).tobytes()
        digest.update(data)
        os.pwrite(w["fd"], data, w["offset"] + i * len(data))
    os.fdatasync(w["fd"])  # the marker only after the pixels are on disk
    write_marker(w["done"], chunk, digest.hexdigest())
    failpoints.failpoint("cache_after_chunk", chunk)
    return hi - lo


def write_marker(done: Path, chunk: int, digest: str) -> None:
    """done/<chunk> := digest, by rename: a marker is either absent or whole."""
    write_atomic(done / f"{chunk:06d}", digest.encode())


def read_markers(done: Path) -> dict[int, str]:
    """{chunk: SHA-1 hex} of every finished chunk; empty or malformed markers count as not done."""
    out = {}
    if done.is_dir():
        for p in done.iterdir():
            if p.name.isdigit():
                text = p.read_text().strip()
                if len(text) == 40 and all(c in "0123456789abcdef" for c in text):
                    out[int(p.name)] = text
    return out


@dataclass(frozen=True)
class DiskUse:
    """Bytes a cache occupies, from its shape alone: printed before a build, checked by
    benchmarks/bench_cache_scale.py against the blocks the files really hold."""

    images: int  # .npy header + N x row bytes
    labels: int  # .npy header + 8 N
    markers: int  # one filesystem block per chunk
    manifest: int  # one block

    @property
    def total(self) -> int:
        return self.images + self.labels + self.markers + self.manifest

    def formula(self, n: int, row_shape: tuple[int, ...], chunk: int) -> str:
        dims = "x".join(str(d) for d in row_shape)
        chunks = -(-n // chunk)
        return (
            f"{n:,} images x {dims} B = {_size(self.images)} + labels 8 B x {n:,} = "
            f"{_size(self.labels)} + {chunks:,} chunk markers x {FS_BLOCK} B + manifest "
            f"= {_size(self.total)}"
        )


def _blocks(nbytes: int) -> int:
    return -(-nbytes // FS_BLOCK) * FS_BLOCK


def disk_use(n: int, row_shape: tuple[int, ...], chunk: int = CHUNK) -> DiskUse:
    """What a cache of `n` rows of `row_shape` uint8 occupies (filesystem blocks of 4 KiB)."""
    row = int(np.prod(row_shape))
    header = 128  # numpy's .npy header, padded to 64 bytes: 128 for these shapes
    return DiskUse(
        images=_blocks(header + n * row),
        labels=_blocks(header + 8 * n),
        markers=-(-n // chunk) * FS_BLOCK,
        manifest=FS_BLOCK,
    )


def _size(nbytes: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if nbytes < 1000 or unit == "TB":
            return f"{nbytes:.1f} {unit}" if unit != "B" else f"{int(nbytes)} B"
        nbytes /= 1000
    return ""


def _close_worker() -> None:
    if "fd" in _WORKER:
        os.close(_WORKER["fd"])
    _WORKER.clear()


def read_markers_of(folder: Path, chunk: int) -> str | None:
    """The SHA-1 recorded for one chunk of the cache in `folder`, or None when not done."""
    path = Path(folder) / "done" / f"{chunk:06d}"
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        return None
    return text if len(text) == 40 else None


def cache_dir_for(cache_root: Path, key: CacheKey) -> Path:
    return Path(cache_root) / key.dataset / f"{key.split}-{key.resolution}px"


def build_cache(
    source,
    key: CacheKey,
    cache_root: Path,
    workers: int | None = None,
    rebuild: bool = False,
    progress: bool = True,
    redo: Sequence[int] = (),
) -> Path:
    """Decode `source` into the cache for `key` (resuming a partial build); return its folder.

    Runs under an exclusive file lock, so runs sharing a data root (seeds of a SLURM array) build
    a cache once: the others wait and then find it complete. `redo`: chunks to decode again even
    in a complete cache (a reader found their bytes damaged).
    """
    failpoints.configure_from_env()  # a build outside ActiveLoop (select, benchmarks) is armed too
    folder = cache_dir_for(cache_root, key)
    # the lock lives beside the folder: a rebuild deletes the folder while holding it
    with FolderLock(folder, wait=True, lock_file=folder.parent / f".{folder.name}.lock"):
        try:
            return _build_locked(source, key, folder, workers, rebuild, progress, redo)
        except OSError as e:  # a decoder's pwrite into images.npy on a full disk
            if isinstance(e, StorageError) or e.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
            raise storage_error(folder / "images.npy", e) from e


def _build_locked(source, key: CacheKey, folder: Path, workers, rebuild, progress, redo) -> Path:
    manifest_path = folder / "manifest.json"
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text())
        if manifest["key"] != key.as_dict():
            if not rebuild:
                diff = {
                    k: (manifest["key"].get(k), v)
                    for k, v in key.as_dict().items()
                    if manifest["key"].get(k) != v
                }
                raise DatasetError(
                    f"the cache at {folder} was built from other data (differs in "
                    + ", ".join(f"{k}: cached {a!r}, now {b!r}" for k, (a, b) in diff.items())
                    + "); it is never reused silently. Delete that folder, or set "
                    "`dataset.cache_rebuild: true` (--set dataset.cache_rebuild=true) to rebuild it"
                )
            shutil.rmtree(folder)
        elif manifest.get("complete") and not redo:
            return folder
    n = len(source)
    if n == 0:
        raise DatasetError(f"no images found for {key.dataset} {key.split}")
    stored = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    if stored.get("shape", [None])[0] == n:  # resuming: no image decoded for its shape again
        shape = tuple(stored["shape"])
    else:  # (N, C, H, W); square unless the source says otherwise (segmentation keeps the
        shape = (n, *source.row(0, key.resolution).shape)  # aspect ratio, masks have C = 1)
    folder.mkdir(parents=True, exist_ok=True)
    done = folder / "done"
    done.mkdir(exist_ok=True)
    images = folder / "images.npy"
    if not images.exists():
        write_atomic(images, lambda f: _empty_npy(f, shape))
    labels = np.asarray(source.labels, dtype=np.int64)
    write_atomic(folder / "labels.npy", lambda f: np.save(f, labels))
    chunk = CHUNK
    if manifest_path.exists():  # resuming: keep the chunking the done markers refer to
        chunk = json.loads(manifest_path.read_text()).get("chunk", CHUNK)
    chunks = -(-n // chunk)
    body = {"key": key.as_dict(), "shape": list(shape), "chunk": chunk, "chunks": chunks}
    _atomic_json(manifest_path, body | {"complete": False})
    for i in redo:  # damaged: its marker goes first, so a kill now leaves it to be redone
        (done / f"{i:06d}").unlink(missing_ok=True)
    finished = read_markers(done)
    todo = [i for i in range(chunks) if i not in finished]
    left = sum(min(chunk, n - i * chunk) for i in todo)
    if todo:
        if progress and not redo:
            use = disk_use(n, shape[1:], chunk)
            print(
                f"cache {key.dataset} {key.split} {key.resolution}px on disk: "
                f"{use.formula(n, shape[1:], chunk)} ({folder})",
                file=sys.stderr,
            )
        workers = max(1, min(workers or os.cpu_count() or 1, len(todo)))
        bar = tqdm(
            total=n,
            initial=n - left,
            desc=f"cache {key.dataset} {key.split} {key.resolution}px",
            unit="img",
            disable=not progress,
        )
        args = (source, str(images), _data_offset(images), key.resolution, str(done), chunk)
        if workers == 1:
            _init_worker(*args)
            try:
                for i in todo:
                    bar.update(_decode_chunk(i))
            finally:
                _close_worker()
        else:
            ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
            with ctx.Pool(workers, initializer=_init_worker, initargs=args) as pool:
                for k in pool.imap_unordered(_decode_chunk, todo):
                    bar.update(k)
        bar.close()
    _atomic_json(manifest_path, body | {"complete": True})
    return folder


def _npy_header(path: Path) -> tuple[tuple[int, ...], bool, np.dtype, int]:
    """(shape, fortran_order, dtype, byte offset of the data) of a .npy file."""
    with open(path, "rb") as f:
        version = np.lib.format.read_magic(f)
        read_header = (
            np.lib.format.read_array_header_1_0
            if version == (1, 0)
            else np.lib.format.read_array_header_2_0
        )
        shape, fortran, dtype = read_header(f)
        return shape, fortran, dtype, f.tell()


def _data_offset(path: Path) -> int:
    return _npy_header(path)[3]


def _atomic_json(path: Path, body: dict) -> None:
    write_atomic(path, json.dumps(body, indent=2, sort_keys=True).encode())


def _empty_npy(f, shape: tuple[int, ...]) -> None:
    """A uint8 .npy of `shape` whose pixels are a hole (sparse, no disk used) the decoders fill."""
    header = {"descr": "|u1", "fortran_order": False, "shape": tuple(shape)}
    np.lib.format.write_array_header_1_0(f, header)
    f.truncate(f.tell() + int(np.prod(shape)))


# ----------------------------------------------------------------------------- read
class CacheReader:
    """Random-index reads of one cache with `os.preadv`: no decoding, bounded host memory.

    The first read that touches a chunk checks the whole chunk against its marker's SHA-1 (one
    sequential pass over the cache per process, VERIFY_BLOCK bytes at a time); a chunk that fails
    is handed to `repair` (which decodes it again from the source) and checked again, or, with no
    `repair`, refused with a DatasetError. Damaged bytes are never returned as images.
    """

    def __init__(self, folder: Path, repair: Callable[[int], None] | None = None):
        self.folder = Path(folder)
        path = self.folder / "images.npy"
        shape, fortran, dtype, self.offset = _npy_header(path)
        if fortran or dtype != np.uint8 or len(shape) != 4:
            raise DatasetError(f"{path} is not a (N, C, H, W) uint8 cache; delete its folder")
        self.shape = shape
        self.row = int(np.prod(shape[1:]))
        self.labels = np.load(self.folder / "labels.npy")
        self._fd: int | None = None
        self._pid = -1
        manifest = self.folder / "manifest.json"
        self.chunk = json.loads(manifest.read_text())["chunk"] if manifest.exists() else CHUNK
        self.repair = repair
        self._verified: set[int] = set()
        self.repaired: list[int] = []  # chunks found damaged and rebuilt, in order

    def _digest(self, chunk: int) -> str:
        """SHA-1 of chunk's bytes as they are on disk now."""
        fd = self._file()
        lo = chunk * self.chunk
        end = self.offset + min(self.shape[0], lo + self.chunk) * self.row
        pos, h = self.offset + lo * self.row, hashlib.sha1()
        buf = bytearray(min(VERIFY_BLOCK, end - pos))
        while pos < end:
            view = memoryview(buf)[: min(len(buf), end - pos)]
            got = os.preadv(fd, [view], pos)
            if got != len(view):
                raise DatasetError(f"short read from {self.folder / 'images.npy'}; rebuild it")
            h.update(view)
            pos += got
        return h.hexdigest()

    def verify(self, chunks) -> None:
        """Check each chunk not yet checked by this process; repair or refuse a damaged one."""
        for c in sorted(set(int(c) for c in chunks) - self._verified):
            want = read_markers_of(self.folder, c)
            if want is None or self._digest(c) != want:
                if self.repair is None:
                    raise DatasetError(
                        f"chunk {c} of the cache {self.folder} does not match its checksum (damaged "
                        "on disk); delete that folder, or load the dataset again to rebuild the chunk"
                    )
                self.repair(c)
                self.repaired.append(c)
                if self._digest(c) != read_markers_of(self.folder, c):
                    raise DatasetError(
                        f"chunk {c} of the cache {self.folder} is still damaged after a rebuild; "
                        "check the disk, then delete that folder"
                    )
            self._verified.add(c)

    def __len__(self) -> int:
        return self.shape[0]

    def _file(self) -> int:
        if self._fd is None or self._pid != os.getpid():  # one descriptor per process
            self._fd, self._pid = os.open(self.folder / "images.npy", os.O_RDONLY), os.getpid()
        return self._fd

    def read(self, idx: np.ndarray, pin: bool = False) -> torch.Tensor:
        """uint8 (B, C, H, W) of rows `idx` in the order given; the disk is visited in sorted order."""
        idx = np.asarray(idx, dtype=np.int64)
        if len(idx) and (idx.min() < 0 or idx.max() >= self.shape[0]):
            raise IndexError(f"cache index out of range [0, {self.shape[0]})")
        out = torch.empty((len(idx), *self.shape[1:]), dtype=torch.uint8, pin_memory=pin)
        buf = out.numpy().reshape(len(idx), self.row)
        self.verify(np.unique(idx // self.chunk))
        fd = self._file()
        for k in np.argsort(idx, kind="stable"):
            got = os.preadv(fd, [buf[k]], self.offset + int(idx[k]) * self.row)
            if got != self.row:
                raise DatasetError(f"short read from {self.folder / 'images.npy'}; rebuild it")
        return out

    def close(self) -> None:
        if self._fd is not None and self._pid == os.getpid():
            os.close(self._fd)
        self._fd = None


@dataclass
class CachedData:
    """A dataset whose images live in two on-disk caches (train, test); labels in memory."""

    name: str
    train: CacheReader
    test: CacheReader
    num_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    out_size: int  # what the task model sees: crops of the stored `resolution`
    augment_presets: dict[str, str] = field(default_factory=lambda: dict(LARGE_AUGMENT))
    storage: str = "cache"
    task_kind: str = "classification"
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    test_index: np.ndarray | None = None  # a fixed test subset, as positions in the test cache
    _train_y: torch.Tensor | None = None
    _test_y: torch.Tensor | None = None

    def __post_init__(self):
        if self._train_y is None:
            self._train_y = torch.as_tensor(self.train.labels, dtype=torch.long)
        if self._test_y is None:
            y = self.test.labels if self.test_index is None else self.test.labels[self.test_index]
            self._test_y = torch.as_tensor(y, dtype=torch.long)

    @property
    def channels(self) -> int:
        return self.train.shape[1]

    @property
    def image_size(self) -> int:
        return self.out_size

    @property
    def resolution(self) -> int:
        return self.train.shape[-1]

    @property
    def train_y(self) -> torch.Tensor:
        return self._train_y

    @property
    def test_y(self) -> torch.Tensor:
        return self._test_y

    def labels(self, split: str) -> torch.Tensor:
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        return self._train_y if split == "train" else self._test_y

    def read(self, split: str, idx: torch.Tensor) -> torch.Tensor:
        i = torch.as_tensor(idx).cpu().numpy()
        if split == "test":
            reader = self.test
            if self.test_index is not None:
                i = self.test_index[i]
        elif split == "train":
            reader = self.train
        else:
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        return reader.read(i, pin=self.device.type == "cuda")

    def to(self, device: torch.device) -> CachedData:
        device = torch.device(device)
        return replace(
            self, device=device, _train_y=self._train_y.to(device), _test_y=self._test_y.to(device)
        )

    def with_test_subset(self, idx: np.ndarray | None) -> CachedData:
        if idx is None:
            return self
        base = np.arange(len(self.test)) if self.test_index is None else self.test_index
        sub = base[np.asarray(idx)]
        return replace(
            self,
            test_index=sub,
            _test_y=torch.as_tensor(self.test.labels[sub], dtype=torch.long).to(self.device),
        )


def cached_dataset(
    name: str,
    sources: dict[str, object],
    cache_root: Path,
    resolution: int,
    out_size: int,
    num_classes: int,
    mean: tuple[float, ...],
    std: tuple[float, ...],
    opts,
    augment_presets: dict[str, str] | None = None,
) -> CachedData:
    """Build (or check and reuse) the train and test caches of `sources` and open them."""
    if out_size > resolution:
        raise DatasetError(
            f"{name}: dataset.image_size {out_size} is larger than dataset.cache_resolution "
            f"{resolution}; crops are taken from the cached images, so raise the resolution"
        )
    readers = {}
    for split, src in sources.items():
        key = CacheKey(name, split, resolution, source_hash(src.fingerprint_items()))
        folder = build_cache(
            src, key, cache_root, opts.cache_workers, opts.cache_rebuild, opts.progress
        )
        readers[split] = CacheReader(folder, repair=_repairer(src, key, cache_root, opts.progress))
    return CachedData(
        name,
        readers["train"],
        readers["test"],
        num_classes,
        mean,
        std,
        out_size,
        augment_presets=dict(augment_presets or LARGE_AUGMENT),
    )


def _repairer(source, key: CacheKey, cache_root: Path, progress: bool) -> Callable[[int], None]:
    """Rebuild one damaged chunk from `source` under the cache's lock (one process at a time)."""

    def repair(chunk: int) -> None:
        if progress:
            print(
                f"cache {key.dataset} {key.split}: chunk {chunk} damaged on disk, rebuilding it",
                file=sys.stderr,
            )
        build_cache(source, key, cache_root, workers=1, progress=False, redo=[chunk])

    return repair


def require_disk_cache(name: str, opts: LoadOptions, why: str) -> None:
    """A dataset that is only read from its disk cache refuses `dataset.storage: memory`."""
    if opts.storage == "memory":
        raise DatasetError(
            f"{name} is read from the disk cache (dataset.storage: auto or cache); {why}"
        )
