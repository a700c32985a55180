"""Human-in-the-loop selection: `python -m vaal_core select SPEC --images DIR --labels labels.csv
--budget N --strategy NAME --out DIR`: which of your unlabeled images to label next.

One call is one round: train the spec's task model (and the strategy's own models) on the images
labels.csv names, score the rest, and write the next `--budget` images as `selection.csv`. The
user labels them, appends `path,label` rows to labels.csv and calls again: a new labels.csv is a
new round. Nothing under the images folder is written, moved or changed; every file of a round
lives in its own folder `<out>/round-<NN>-<key>`, where the key hashes everything the list depends
on (the labels labels.csv gives, the image list and each image's size, the spec's hash with every
--set and --protocol in it, strategy, budget, seed). So:
- a rerun with the same inputs finds its round folder and prints the same list (no compute);
- an interrupted round resumes: the trained task model is kept (`task_model.pt`), and every random
  stream is seeded by (seed, key, purpose) alone, so the list equals an uninterrupted round's;
- no test set is read: selection needs none, so no accuracy is measured (the run command does).

Images are decoded once into `<out>/cache/` as the `imagefolder` dataset decodes them (upright,
grey only when every image is grey, cached at image_size x 256/224 and cropped on the device).
Paths in labels.csv, in a list file and in selection.csv are relative to the images folder (or to
the list file's folder); absolute paths work too. Class indices follow the sorted label names.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import hashlib
import io
import json
import posixpath
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .cli import add_spec_overrides, non_negative_int, positive_int
from .errors import DatasetError, SpecError, UsageError
from .failpoints import configure_from_env, failpoint
from .spec import Spec, load_spec
from .storage import FolderLock, check_writable, write_atomic
from .words import count, verb

if TYPE_CHECKING:  # torch-free at import: the CLI starts fast
    from .strategies import Selection

SHOWN = 5  # paths an error names; the count says how many more
SELECTION = "selection.csv"
MODEL = "task_model.pt"
SCORE = "score.json"


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


@dataclass(frozen=True)
class Picked:
    """One image to label next: its path, rank (1 first) and the strategy's score, if any."""

    path: str
    rank: int
    score: float | None


def _some(items: Sequence[str]) -> str:
    shown = ", ".join(items[:SHOWN])
    return f"{shown} and {len(items) - SHOWN} more" if len(items) > SHOWN else shown


# ----------------------------------------------------------------------------- the command line
def add_arguments(p: argparse.ArgumentParser) -> None:
    """The `select` subcommand's arguments (spec, --set and --protocol as `run` reads them)."""
    p.add_argument("spec", help="experiment spec (YAML): task model, VAAL and runtime settings")
    p.add_argument(
        "--images",
        required=True,
        help="folder of images (searched recursively), or a text/CSV file listing image paths",
    )
    p.add_argument(
        "--labels", required=True, help="CSV of rows path,label: the images labeled so far"
    )
    p.add_argument(
        "--budget", type=positive_int, required=True, help="how many images to select this round"
    )
    p.add_argument(
        "--strategy",
        required=True,
        help="how to pick: vaal, random, entropy, coreset, ... (any registered strategy that "
        "selects from a labeled set; not full)",
    )
    p.add_argument(
        "--seed",
        type=non_negative_int,
        default=0,
        help="seed of the round's training and picking (default: 0); the same seed and inputs "
        "give the same list",
    )
    p.add_argument(
        "--out", required=True, help="folder for the rounds' state (never the images' folder)"
    )
    add_spec_overrides(p)
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def main(args: argparse.Namespace) -> int:
    """The subcommand: one round, then where its list is and what to do next."""
    configure_from_env()
    spec = load_spec(args.spec, args.set, protocol=args.protocol)
    check_strategy(spec, args.strategy)
    images = list_images(Path(args.images), Path(args.out))
    labels = read_labels(Path(args.labels), images.base)
    if len(labels.classes) < 2:  # before any compute: nothing is written
        raise DatasetError(
            f"{args.labels} labels images of one class only ('{labels.classes[0]}'); the task "
            f"model ({spec.task.model}, a classifier) learns to tell classes apart and needs "
            "labeled images of at least two classes: label a few images of another class"
        )
    check_writable(Path(args.out), "--out", "choose a writable --out")  # before any compute
    req = Request(
        spec=spec,
        images=images,
        labels=labels,
        budget=args.budget,
        strategy=args.strategy,
        seed=args.seed,
        out=Path(args.out),
        progress=not args.no_progress,
    )
    folder, ranked, fresh = run_round(req)
    unlabeled = len(set(images.paths) - set(labels.rows))
    print(
        f"\n{'selected' if fresh else 'already selected (same inputs)'}: {len(ranked.picked)} of "
        f"{count(unlabeled, 'unlabeled image')} by {req.strategy} (seed {req.seed}); trained on "
        f"{count(len(labels.rows), 'labeled image')} in {count(len(labels.classes), 'class')}\n"
        "no test set: selection needs none, so no accuracy is measured "
        f"(python -m vaal_core run measures it)\nselection: {folder / SELECTION}\n"
        f"{ranked.describe(req.strategy)}\n"
        f"next: label these images, append their rows path,label to {labels.path}, and run "
        "the same command again for the next round"
    )
    return 0


# ----------------------------------------------------------------------------- checking inputs
def check_strategy(spec: Spec, name: str) -> None:
    """A strategy that selects from a labeled set; `full` (every label at once) cannot."""
    from .strategies import STRATEGIES, check_owned_options, check_strategy_supports, supports

    if spec.task.kind != "classification":
        raise SpecError(
            f"select labels images with one class each; spec key 'task.kind' is "
            f"'{spec.task.kind}', set it to classification"
        )
    check_strategy_supports(name, spec.task.kind)
    check_owned_options(spec)  # the strategies' own keys (`vaal.*`, `baselines.*`)
    if STRATEGIES[name].whole_pool:
        able = sorted(
            n for n, c in STRATEGIES.items() if not c.whole_pool and supports(c, spec.task.kind)
        )
        raise UsageError(
            f"strategy '{name}' needs every image labeled (it trains once on all of them) and "
            f"selects nothing; select runs: {', '.join(able)}"
        )


def _visible(rel: Path) -> bool:
    return not any(part.startswith(".") for part in rel.parts)


def list_images(source: Path, out: Path) -> Images:
    """Every image file under a folder (hidden files and `out` left out), or a list file's."""
    from .datasets.imagefolder import image_extensions

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
            raise DatasetError(f"{source} names {count(len(gone), 'missing file')}: {_some(gone)}")
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
            f"exist under {base}: {_some(gone)}"
        )
    return Labels(path, rows, raw)


# ----------------------------------------------------------------------------- one round
def run_round(req: Request) -> tuple[Path, Ranked, bool]:
    """(the round's folder, the images to label next, whether they were computed now)."""
    unlabeled = sorted(set(req.images.paths) - set(req.labels.rows))
    if req.budget > len(unlabeled):
        raise UsageError(
            f"--budget {req.budget} is larger than the {count(len(unlabeled), 'unlabeled image')} "
            f"({count(len(req.images.paths), 'image')}, {len(req.labels.rows)} labeled); lower it"
        )
    key = req.key()
    with FolderLock(req.out, wait=True):  # numbering the rounds: held for a moment
        folder = _round_folder(req.out, key)
    with FolderLock(folder, hint=_BUSY):
        if (folder / SELECTION).is_file():
            return folder, read_selection(folder), False
        ranked = _compute(req, folder, key, unlabeled)
        _write_selection(folder, ranked)
    return folder, ranked, True


# a second `select` on a round in progress is refused, naming the first (pid, command)
_BUSY = "wait for it to finish (then the same command prints its list), or stop it"


_ROUND = re.compile(r"round-(\d+)-([0-9a-f]{12})$")


def _round_folder(out: Path, key: str) -> Path:
    """`<out>/round-<NN>-<key>`: the existing folder of these inputs, or the next number."""
    found = {m[2]: int(m[1]) for p in out.iterdir() if (m := _ROUND.match(p.name))}
    number = found.get(key[:12], max(found.values(), default=0) + 1)
    folder = out / f"round-{number:02d}-{key[:12]}"
    folder.mkdir(exist_ok=True)
    return folder


def _number(folder: Path) -> int:
    return int(_ROUND.match(folder.name)[1])


def _compute(req: Request, folder: Path, key: str, unlabeled: list[str]) -> Ranked:
    """Train on the labeled images, query the strategy (one `Round`), rank what it picked."""
    import torch

    from .batches import batches_from_spec
    from .device import check_precision, resolve_device
    from .pool import Pool
    from .round import Round, build_task_model
    from .strategies import make_strategy

    spec, cycle = req.spec, _number(folder) - 1  # failpoints name rounds from 0, as cycles
    device = resolve_device(spec.runtime.device)
    check_precision(spec.runtime.precision, device)
    if spec.runtime.num_threads:
        torch.set_num_threads(spec.runtime.num_threads)
    paths = sorted(set(req.images.paths) | set(req.labels.rows))
    data = _data(req, paths)
    batches = batches_from_spec(spec, data, device)
    index = {p: i for i, p in enumerate(paths)}
    labeled = np.array(sorted(index[p] for p in req.labels.rows), dtype=np.int64)
    candidates = np.array(sorted(index[p] for p in (*req.labels.rows, *unlabeled)))
    _write_inputs(folder, req, key, len(paths))

    # every random stream: (seed, key, purpose)
    round_ = Round(spec, batches, req.seed, int(key[:15], 16), cycle, req.progress)
    if (folder / MODEL).is_file():  # a resumed round keeps the model it trained before
        model = build_task_model(spec, batches, torch.load(folder / MODEL, map_location="cpu"))
    else:
        model, _ = round_.train(labeled)
        write_atomic(folder / MODEL, lambda f: torch.save(model.state_dict(), f))
        failpoint("after_train", cycle)
    selection = round_.query(
        make_strategy(req.strategy, spec), Pool(candidates, labeled), model, req.budget
    )
    failpoint("after_query", cycle)
    stats = json.dumps(selection.stats, indent=1)
    write_atomic(folder / "query_stats.json", stats.encode())
    return rank(selection, paths)


@dataclass(frozen=True)
class Ranked:
    """A round's list: the images in the order to label them, and what their score is."""

    picked: list[Picked]
    column: str | None  # the score's name in selection.csv (None: the strategy has no score)
    meaning: str = ""
    higher_first: bool = True

    def describe(self, strategy: str) -> str:
        if self.column is None:
            return f"{strategy} has no score: the list is in path order"
        first = "highest" if self.higher_first else "lowest"
        return f"ranked by {self.column}, {first} first: {self.meaning}"


def rank(selection: Selection, paths: Sequence[str]) -> Ranked:
    """The picks in the order to label them: by the strategy's score, best first (its declared
    direction), ties by path; a strategy without scores, by path."""
    order = selection.label_order()
    picked = [
        Picked(
            paths[selection.indices[j]],
            r,
            None if selection.scores is None else float(selection.scores[j]),
        )
        for r, j in enumerate(order, 1)
    ]
    kind = selection.score if selection.scores is not None else None
    if kind is None:
        return Ranked(picked, None)
    return Ranked(picked, kind.column, kind.meaning, kind.higher_first)


# ----------------------------------------------------------------------------- data
def _data(req: Request, paths: list[str]):
    """The images as a `CachedData` (decoded once into `<out>/cache/`), labels of the labeled
    images as indices of the sorted class names and -1 for the rest (which nothing may read)."""
    import torch

    from .datasets.base import LARGE_AUGMENT, LoadOptions
    from .datasets.cache import CachedData, CacheKey, CacheReader, build_cache, source_hash
    from .datasets.imagefolder import (
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
        named = _some([f"{p} ({why})" for p, why in bad])
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


# ----------------------------------------------------------------------------- the round's files
def _write_inputs(folder: Path, req: Request, key: str, n_images: int) -> None:
    """What the round was computed from, for the user and for a later look."""
    body = {
        "key": key,
        "spec": str(req.spec.experiment),
        "spec_hash": req.spec.hash(),
        "strategy": req.strategy,
        "seed": req.seed,
        "budget": req.budget,
        "images": str(req.images.base),
        "n_images": n_images,
        "labels": str(req.labels.path),
        "labels_sha1": hashlib.sha1(req.labels.raw).hexdigest(),
        "n_labeled": len(req.labels.rows),
        "classes": list(req.labels.classes),
        "test_set": None,
    }
    write_atomic(folder / "inputs.json", json.dumps(body, indent=1).encode())
    write_atomic(folder / "labels.csv", req.labels.raw)


def _write_selection(folder: Path, ranked: Ranked) -> None:
    """selection.csv (path, rank and the score under its own name) and score.json (what the
    score means and which end is picked first)."""

    rows = io.StringIO(newline="")
    out = csv.writer(rows)
    out.writerow(["path", "rank", *([ranked.column] if ranked.column else [])])
    for p in ranked.picked:
        out.writerow([p.path, p.rank, *([repr(p.score)] if ranked.column else [])])

    meaning = {
        "column": ranked.column,
        "meaning": ranked.meaning or None,
        "higher_first": ranked.higher_first if ranked.column else None,
    }
    write_atomic(folder / SCORE, json.dumps(meaning, indent=1).encode())
    write_atomic(folder / SELECTION, rows.getvalue().encode())


def read_selection(folder: Path) -> Ranked:
    with open(folder / SELECTION, newline="") as f:
        rows = list(csv.DictReader(f))
    if (folder / SCORE).is_file():
        meaning = json.loads((folder / SCORE).read_text())
    else:  # a round written before score.json: its one score column was "score" (VAAL's)
        scored = any(r.get("score") for r in rows)
        meaning = {"column": "score" if scored else None, "meaning": "", "higher_first": False}
    column = meaning["column"]
    picked = [Picked(r["path"], int(r["rank"]), float(r[column]) if column else None) for r in rows]
    return Ranked(picked, column, meaning["meaning"] or "", bool(meaning["higher_first"]))
