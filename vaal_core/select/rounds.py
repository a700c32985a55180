"""One round of `select`: its folder (keyed by everything the list depends on), its lock, its
computation (one `Round`: train, query) and its files (inputs.json, selection.csv, score.json)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import UsageError
from ..failpoints import failpoint
from ..storage import FolderLock, write_atomic
from ..words import count
from .images import round_data
from .inputs import Request

if TYPE_CHECKING:  # torch-free at import: the CLI starts fast
    from ..strategies import Selection

SELECTION = "selection.csv"
MODEL = "task_model.pt"
SCORE = "score.json"


@dataclass(frozen=True)
class Picked:
    """One image to label next: its path, rank (1 first) and the strategy's score, if any."""

    path: str
    rank: int
    score: float | None


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

    from ..run.pool import Pool
    from ..run.round import Round, build_task_model
    from ..strategies import make_strategy
    from ..train.batches import batches_from_spec
    from ..train.device import check_precision, resolve_device

    spec, cycle = req.spec, _number(folder) - 1  # failpoints name rounds from 0, as cycles
    device = resolve_device(spec.runtime.device)
    check_precision(spec.runtime.precision, device)
    if spec.runtime.num_threads:
        torch.set_num_threads(spec.runtime.num_threads)
    paths = sorted(set(req.images.paths) | set(req.labels.rows))
    data = round_data(req, paths)
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
