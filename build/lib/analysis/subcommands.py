"""The `export` and `paper-table` commands of `python -m analysis`, kept apart from `report`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from .export import export
from .paper_table import paper_table_display, paper_vs_reproduction
from .report import markdown_table
from .runs import load_runs

__all__ = ["EXTRA_COMMANDS", "add_extra_commands"]


def add_extra_commands(sub: argparse._SubParsersAction) -> None:
    """Register the parsers of every command in EXTRA_COMMANDS."""
    exp = sub.add_parser("export", help="tidy records (CSV, parquet) and tables (CSV, md, LaTeX)")
    exp.add_argument("root", help="results root written by vaal_core")
    exp.add_argument("--out", required=True, help="folder for the exported files")
    exp.add_argument("--no-parquet", action="store_true", help="skip records.parquet (no pyarrow)")
    pap = sub.add_parser("paper-table", help="reproduction vs every paper reference point")
    pap.add_argument("root", help="results root written by vaal_core")


def _export(args: argparse.Namespace) -> int:
    written = export(
        args.root,
        args.out,
        parquet=not args.no_parquet,
        note=lambda text: print(text, file=sys.stderr),
    )
    print("\n".join(str(p) for p in written))
    return 0


def _paper_table(args: argparse.Namespace) -> int:
    table = paper_vs_reproduction(load_runs(args.root, allow_empty=True))
    print(markdown_table(paper_table_display(table)))
    return 0


EXTRA_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "export": _export,
    "paper-table": _paper_table,
}
