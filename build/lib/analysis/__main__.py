"""Command line: `python -m analysis report RESULTS_ROOT [--out figures/] [--baseline random]
[--no-figures]`, `python -m analysis export RESULTS_ROOT --out DIR [--no-parquet]` and
`python -m analysis paper-table RESULTS_ROOT`."""

from __future__ import annotations

import argparse
import sys

from .report import report
from .runs import RunLogError
from .subcommands import EXTRA_COMMANDS, add_extra_commands


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, print the report; exit status 2 on unusable run logs."""
    parser = argparse.ArgumentParser(prog="python -m analysis", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    rep = sub.add_parser("report", help="tables, significance tests and figures of a results root")
    rep.add_argument("root", help="results root written by vaal_core")
    rep.add_argument("--out", default="figures", help="folder for figures (default: figures/)")
    rep.add_argument("--baseline", default="random", help="strategy to test against")
    rep.add_argument("--no-figures", action="store_true", help="tables, verdicts and warnings only")
    add_extra_commands(sub)
    args = parser.parse_args(argv)
    try:
        if args.command in EXTRA_COMMANDS:
            return EXTRA_COMMANDS[args.command](args)
        text = report(
            args.root,
            out_dir=args.out,
            baseline=args.baseline,
            verbose=False,
            figures=not args.no_figures,
        )
        print(text)
    except RunLogError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
