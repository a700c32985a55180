"""A round's inputs: the images `--images` names and the labels labels.csv gives, read and
checked before any compute."""

from __future__ import annotations

import contextlib
import csv
import hashlib
import posixpath
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import DatasetError
from ..spec import Spec
from ..words import count, verb

SHOWN = 5  # paths an error names; the count says how many more


@dataclass(frozen=True)
class Images:
    """The images `--images` names: paths relative to `base` (or absolute), sorted."""

    base: Path
    paths: tuple[str, ...]


@dataclass(frozen=True)
class Labels:
    """labels.csv: path -> class name, the file's bytes (the round's key) and its location."""

    path: Path
    rows: dict[str, str]
    raw: bytes

    @property
    def classes(self) -> tuple[str, ...]:
        return tuple(sorted(set(self.rows.values())))


@dataclass(frozen=True)
class Request:
    """One round's inputs, as the command line gives them."""

    spec: Spec
    images: Images
    labels: Labels
    budget: int
    strategy: str
    seed: int
    out: Path
    progress: bool = True

    def key(self) -> str:
        """Everything the round's list depends on; the round's folder is named by it, and its
        random streams are seeded by it. The labels as read (rows sorted: reordering labels.csv,
        its line endings or its header keep the round), every image's path and size, labeled
        ones listed outside --images included (an image replaced under its old name changes its
        size, and so the key), the spec's hash (every --set and --protocol changes it, save the
        thread count and keys select never reads: active.cycles, strategies, seeds), the
        strategy, the budget and the seed. The images' folder is not in it: a moved folder keeps
        its rounds."""
        h = hashlib.sha1()
        files = sorted(set(self.images.paths) | set(self.labels.rows))
        for part in (
            "\n".join(f"{p}\t{y}" for p, y in sorted(self.labels.rows.items())).encode(),
            "\n".join(f"{p}\t{(self.images.base / p).stat().st_size}" for p in files).encode(),
            self.spec.hash().encode(),
            f"{self.strategy}\t{self.budget}\t{self.seed}".encode(),
        ):
            h.update(hashlib.sha1(part).digest())
        return h.hexdigest()


def some_paths(items: Sequence[str]) -> str:
    shown = ", ".join(items[:SHOWN])
    return f"{shown} and {len(items) - SHOWN} more" if len(items) > SHOWN else shown


def _visible(rel: Path) -> bool:
    return not any(part.startswith(".") for part in rel.parts)


def list_images(source: Path, out: Path) -> Images:
    """Every image file under a folder (hidden files and `out` left out), or a list file's."""
    from ..datasets.imagefolder import image_extensions

    if source.is_dir():
        exts, skip = image_extensions(), out.resolve()
        paths = sorted(
            f.relative_to(source).as_posix()
            for f in source.rglob("*")
            if f.suffix.lower() in exts
            and _visible(f.relative_to(source))
            and skip not in f.resolve().parents
            and f.is_file()
        )
        base = source
    elif source.is_file():
        base, paths = source.parent, sorted(set(_listed(source)))
        gone = [p for p in paths if not (base / p).is_file()]
        if gone:
            raise DatasetError(
                f"{source} names {count(len(gone), 'missing file')}: {some_paths(gone)}"
            )
    else:
        raise DatasetError(f"--images {source}: no such folder or list file")
    if not paths:
        raise DatasetError(f"--images {source} holds no images (any format Pillow reads)")
    return Images(base, tuple(paths))


def _listed(path: Path) -> Iterator[str]:
    """A list file's paths: one per line, or a CSV's `path` column (else its first column)."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = [r for r in csv.reader(f) if r and r[0].strip() and not r[0].startswith("#")]
    header = [c.strip().lower() for c in rows[0]] if rows else []
    col = header.index("path") if "path" in header else 0
    for r in rows[1:] if "path" in header else rows:
        yield posixpath.normpath(r[col].strip())


def _identifier(text: str, base: Path) -> str:
    """A path as `list_images` names it: relative to `base` where it lies under it."""
    p = Path(text)
    if p.is_absolute():
        with contextlib.suppress(ValueError):
            return p.resolve().relative_to(base.resolve()).as_posix()
        return p.as_posix()
    return posixpath.normpath(text)


def read_labels(path: Path, base: Path) -> Labels:
    """labels.csv: rows path,label (optional header), each naming an existing file once."""
    if not path.is_file():
        raise DatasetError(
            f"--labels {path}: no such file; write a CSV of rows path,label for the images you "
            "have labeled (label a first few by hand, or pick them with --strategy random "
            "once a few are labeled)"
        )
    raw = path.read_bytes()
    rows: dict[str, str] = {}
    for n, r in enumerate(csv.reader(raw.decode("utf-8-sig").splitlines()), 1):
        r = [c.strip() for c in r]
        if not any(r):
            continue
        if n == 1 and [c.lower() for c in r[:2]] == ["path", "label"]:
            continue
        if len(r) < 2 or not r[0] or not r[1]:
            raise DatasetError(f"{path} line {n}: every row needs a path and a label")
        key = _identifier(r[0], base)
        if key in rows:
            raise DatasetError(f"{path} line {n}: {r[0]} is listed twice; one row per image")
        rows[key] = r[1]
    if not rows:
        raise DatasetError(f"{path} lists no labeled images; one row per image: path,label")
    gone = [p for p in rows if not (base / p).is_file()]
    if gone:
        raise DatasetError(
            f"{path} names {count(len(gone), 'file')} that {verb(len(gone), 'does', 'do')} not "
            f"exist under {base}: {some_paths(gone)}"
        )
    return Labels(path, rows, raw)
