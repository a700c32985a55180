"""What every command line of the suite shares: an argument error is one `error:` line, exit 2.

argparse prints its usage and `prog: error: ...` and exits on its own; `ArgumentParser` here raises
`UsageError` instead, which each `main` reports like any other expected failure. The argument
types check ranges at parse time, so a bad value never reaches compute (`--seed -1` once ended in
numpy's `ValueError: expected non-negative integer` mid-run).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from typing import NoReturn

from .errors import UsageError


class ArgumentParser(argparse.ArgumentParser):
    """argparse, with errors raised as `UsageError` (sub-parsers inherit the class)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (usage: {self.prog} --help)")


def suite_version() -> str:
    """The installed package's version (the source tree's when it is not installed)."""
    try:
        return version("vaal-suite")
    except PackageNotFoundError:
        return "unknown (not installed: make venv)"


def add_version(p: argparse.ArgumentParser) -> None:
    """`--version`: the program as the user typed it (the parser's `prog`) and the version."""
    p.add_argument(
        "--version",
        action="version",
        version=f"%(prog)s {suite_version()}",
        help="print the program's name and version, then exit",
    )


def add_spec_arguments(p: argparse.ArgumentParser) -> None:
    """What names one spec and where its runs go, the same for every command that launches runs
    (`python -m vaal_core run|demo`, `python -m slurm.sweep`): one list, so they cannot drift."""
    p.add_argument("spec", help="experiment spec (YAML), e.g. experiments/mnist.yaml")
    p.add_argument("--out", default="results", help="results root (default: results/)")
    p.add_argument("--data-root", default=None, help="dataset root (default: $DATA_ROOT or data/)")
    add_spec_overrides(p)


def add_spec_overrides(p: argparse.ArgumentParser) -> None:
    """How a command changes the spec it loads (`--set`, `--protocol`): also `select`'s."""
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a spec value, e.g. --set task.epochs=2 (repeatable)",
    )
    p.add_argument(
        "--protocol",
        default=None,
        help="training protocol preset under the spec's values: paper, release, "
        "modern, paper-exact, release-exact",
    )


def int_at_least(minimum: int):
    """An argparse type: an integer >= `minimum`."""

    def parse(text: str) -> int:
        value = _parse(int, text, "an integer")
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {text}")
        return value

    return parse


non_negative_int = int_at_least(0)
positive_int = int_at_least(1)


def positive_float(text: str) -> float:
    value = _parse(float, text, "a number")
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def _parse(kind, text: str, what: str):
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None


def seed_list(text: str) -> list[int]:
    """An argparse type for `--seeds`: a range `0-4`, a list `0,2,7`, or both (`0-2,5`).

    A bare number is refused: `--seeds 3` reads as three seeds to one user and as seed 3 to the
    next, so it has no single meaning; `0-2` and `3-3` each have one.
    """
    text = text.strip()
    if text.isdigit():
        n = int(text)
        hint = f"0-{n - 1} for {n} seed{'s' if n > 1 else ''}, or " if n else ""
        raise argparse.ArgumentTypeError(
            f"takes a range or a list of seeds, not a count: write {hint}{n}-{n} for seed {n} "
            f"alone (e.g. 0-4, 0,2,7 or 0-2,5)"
        )
    seeds: list[int] = []
    try:
        for part in text.split(","):
            lo, sep, hi = part.strip().partition("-")
            first, last = int(lo), int(hi) if sep else int(lo)
            if first < 0 or last < first:
                raise ValueError
            seeds.extend(range(first, last + 1))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a seed range or list; write e.g. 0-4, 0,2,7 or 0-2,5"
        ) from None
    if len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"{text!r} names a seed twice")
    return seeds


class LazyHelp(str):
    """An argument's help text computed only when `--help` shows it: a list of registered names
    costs an import of torch (seconds), which parsing a command line should not pay."""

    def __new__(cls, compute: Callable[[], str]) -> LazyHelp:
        text = super().__new__(cls, "(computed when shown)")
        text.compute = compute
        return text

    def __mod__(self, params: object) -> str:  # argparse expands `%(default)s` with `%`
        return self.compute()
