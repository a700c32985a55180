"""The results folder every `python -m analysis` command reads, checked one way for all of them.

A folder that does not exist (a typo included), is a file, or holds no run logs is one error
naming the folder and what fills it; the commands turn it into one `error:` line and exit 2.
"""

from __future__ import annotations

import difflib
from pathlib import Path

from .runs import RunLogError

__all__ = ["ResultsFolderError", "FILL", "results_folder"]

FILL = (
    "fill it with `make demo`, or with `python -m vaal_core run experiments/mnist.yaml "
    "--strategy random --seed 0 --out <folder>`"
)


class ResultsFolderError(RunLogError):
    """The results folder is missing, not a folder, or holds no run logs."""


def _near(path: Path) -> str:
    """' (did you mean X?)' for a sibling folder with a close name, else ''."""
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        return ""
    names = [p.name for p in parent.iterdir() if p.is_dir()]
    close = difflib.get_close_matches(path.name, names, n=1, cutoff=0.7)
    return f" (did you mean {parent / close[0]}?)" if close else ""


def results_folder(path: str | Path) -> Path:
    """`path` when it is a folder holding at least one run log (`cycles.jsonl`); else raises
    ResultsFolderError saying what is wrong and what fills it."""
    root = Path(path)
    if not root.exists():
        raise ResultsFolderError(f"results folder {root} does not exist{_near(root)}; {FILL}")
    if not root.is_dir():
        raise ResultsFolderError(f"results folder {root} is a file, not a folder; {FILL}")
    if next(root.rglob("cycles.jsonl"), None) is None:
        raise ResultsFolderError(f"results folder {root} holds no runs (no cycles.jsonl); {FILL}")
    return root
