"""Command line: `python -m analysis COMMAND RESULTS [options]`.

Every command reads the same results folder argument; a missing, empty or mistyped folder (and
any other problem the user can fix) is one `error:` line and exit status 2.
"""

from __future__ import annotations

import argparse
import sys

from vaal_core.cli import ArgumentParser, add_version
from vaal_core.errors import ExpectedError

from .subcommands import COMMANDS, add_commands, run_command

PROG = "python -m analysis"


def _description() -> str:
    """The module's summary and every command with its one line (from `COMMANDS`, so a new
    command is named here without an edit)."""
    width = max(len(name) for name in COMMANDS)
    lines = [f"  {name.ljust(width)}  {c.help}" for name, c in COMMANDS.items()]
    head, _, tail = __doc__.partition("\n\n")
    return "\n".join([head, "Commands:", *lines, "", tail.strip()])


def _parser(prog: str = PROG) -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog=prog, description=_description(), formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_version(parser)
    sub = parser.add_subparsers(dest="command", required=True)
    add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)  # an argument error: UsageError, one line below
        return run_command(args)
    except ExpectedError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
