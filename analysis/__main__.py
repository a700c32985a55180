"""Command line: `python -m analysis report|figures|export|paper-table RESULTS [options]`.

Every command reads the same results folder argument; a missing, empty or mistyped folder (and
any other problem the user can fix) is one `error:` line and exit status 2.
"""

from __future__ import annotations

import argparse
import sys

from vaal_core.errors import ExpectedError

from .subcommands import add_commands, run_command


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m analysis", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    add_commands(sub)
    args = parser.parse_args(argv)
    try:
        return run_command(args)
    except ExpectedError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
