"""The commands of `python -m analysis`: each takes the results folder the same way and checks it
the same way (`folder.results_folder`) before it reads a line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from vaal_core.words import count

from .export import export
from .figures import FIGURES, draw_figures
from .folder import results_folder
from .paper_table import paper_table_display, paper_vs_reproduction
from .report import build_report, markdown_table
from .runs import load_runs

__all__ = ["Command", "COMMANDS", "add_commands", "wrote_line"]


@dataclass(frozen=True)
class Command:
    """One subcommand: its help, its own options, and what it does with the parsed arguments."""

    help: str
    options: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


def wrote_line(folder: Path, files: list[Path]) -> str:
    """'wrote 7 files to <folder>/: report.md, a.{png,pdf,txt}': the last line of a command that
    writes files, one name per stem."""
    stems: dict[str, list[str]] = {}
    for p in files:
        name = str(p.relative_to(folder)) if p.is_relative_to(folder) else str(p)
        stem, dot, ext = name.rpartition(".")
        stems.setdefault(stem if dot else name, []).append(ext if dot else "")
    names = [
        f"{s}.{exts[0]}" if len(exts) == 1 else f"{s}.{{{','.join(exts)}}}"
        for s, exts in stems.items()
    ]
    n = len(files)
    return f"wrote {count(n, 'file')} to {folder}/: {', '.join(names) or 'none'}"


def _report_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--out", default="figures", help="folder for report.md and figures (default: figures/)"
    )
    p.add_argument("--baseline", default="random", help="strategy to test against")
    p.add_argument(
        "--no-figures", action="store_true", help="report.md only: tables, verdicts, warnings"
    )


def _report(args: argparse.Namespace) -> int:
    out = Path(args.out)
    done = build_report(args.results, out, baseline=args.baseline, figures=not args.no_figures)
    print(done.text)
    print(wrote_line(out, done.files))
    return 0


def _figures_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="figures", help="folder for the figures (default: figures/)")
    p.add_argument(
        "--list", action="store_true", help="say which figures the runs allow; draw none"
    )


def _figures(args: argparse.Namespace) -> int:
    runs = load_runs(args.results)
    if args.list:
        for entry in FIGURES:
            if entry.allows(runs):
                print(f"{entry.name}: the runs allow it")
            else:
                print(f"not drawn: {entry.name}: {entry.how(Path(args.results))}")
        return 0
    out = Path(args.out)
    files: list[Path] = []
    for drawn in draw_figures(runs, args.results, out):
        files += drawn.files
        if drawn.not_drawn:
            print(f"not drawn: {drawn.not_drawn}")
    print(wrote_line(out, files))
    return 0


def _export_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, help="folder for the exported files")
    p.add_argument("--no-parquet", action="store_true", help="skip records.parquet (no pyarrow)")


def _export(args: argparse.Namespace) -> int:
    out = Path(args.out)
    written = export(
        args.results, out, parquet=not args.no_parquet, note=lambda t: print(t, file=sys.stderr)
    )
    print(wrote_line(out, written))
    return 0


def _paper_table(args: argparse.Namespace) -> int:
    table = paper_vs_reproduction(load_runs(args.results))
    print(markdown_table(paper_table_display(table)))
    return 0


COMMANDS: dict[str, Command] = {
    "report": Command(
        "tables, significance tests and figures of a results folder, written as report.md",
        _report_options,
        _report,
    ),
    "figures": Command(
        "every figure the runs allow (png, pdf, caption)", _figures_options, _figures
    ),
    "export": Command(
        "tidy records (CSV, parquet) and tables (CSV, md, LaTeX)", _export_options, _export
    ),
    "paper-table": Command(
        "reproduction vs every paper reference point", lambda p: None, _paper_table
    ),
}


def add_commands(sub: argparse._SubParsersAction) -> None:
    """One parser per command, each with the same results-folder argument first."""
    for name, command in COMMANDS.items():
        p = sub.add_parser(name, help=command.help, description=command.help)
        p.add_argument("results", help="results folder written by vaal_core (e.g. results/)")
        command.options(p)


def run_command(args: argparse.Namespace) -> int:
    """Check the results folder, then run the command."""
    results_folder(args.results)
    return COMMANDS[args.command].run(args)
