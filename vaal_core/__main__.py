"""Command line of the suite (`python -m vaal_core`, or the `vaal` console script). Commands:
  run     one (strategy, seed) run of a spec; resumes if interrupted
  demo    every strategy x seed of a spec, then the report
  select  which of your unlabeled images to label next (one round of labeling by hand)
`<command> --help` explains each command's arguments.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from . import failpoints
from .cli import (
    ArgumentParser,
    LazyHelp,
    add_spec_arguments,
    add_version,
    non_negative_int,
    positive_int,
    seed_list,
    suite_version,
)
from .errors import ExpectedError
from .spec import load_spec
from .spec.unused_keys import unused_keys
from .words import count

PROG = "python -m vaal_core"

__all__ = ["main", "console", "suite_version"]


def _parser(prog: str = PROG) -> argparse.ArgumentParser:
    p = ArgumentParser(
        prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_version(p)
    sub = p.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    add_spec_arguments(common)
    common.add_argument("--no-progress", action="store_true", help="no progress bars")
    common.add_argument(
        "--wait",
        action="store_true",
        help="if another process holds a run directory, wait for it instead of failing",
    )
    common.add_argument(
        "--tensorboard",
        action="store_true",
        help="write TensorBoard logs to <run dir>/tensorboard/ (also: VAAL_TENSORBOARD=1; "
        "the spec and its hash are unchanged)",
    )

    run = sub.add_parser(
        "run", parents=[common], help="one (strategy, seed) run; resumes if interrupted"
    )
    run.add_argument("--strategy", required=True, help=LazyHelp(_strategy_help))
    run.add_argument(
        "--seed",
        type=non_negative_int,
        required=True,
        help="the run's seed (an integer >= 0): its initial labeled set, training and picks",
    )

    demo = sub.add_parser(
        "demo", parents=[common], help="every strategy x seed of a spec, then the report"
    )
    demo.add_argument(
        "--strategies",
        default=None,
        help="comma-separated strategy names (default: the spec's list)",
    )
    demo.add_argument(
        "--seeds",
        type=seed_list,
        default=None,
        help="a range or list of seeds, e.g. 0-2 or 0,3,5 (default: the spec's seeds)",
    )
    demo.add_argument("--figures", default="figures", help="where the report writes figures")
    demo.add_argument(
        "--jobs",
        type=positive_int,
        default=1,
        help="runs at a time, each in its own process with one thread per core it gets "
        "(small CPU models scale across processes far better than across threads)",
    )
    from . import select  # the human-in-the-loop round: its arguments live with it

    select.add_arguments(
        sub.add_parser("select", help="which of your unlabeled images to label next (one round)")
    )
    return p


def _strategy_help() -> str:
    """The registered strategies, plug-ins' included (imports them: only when help is shown)."""
    from .strategies import STRATEGIES

    return (
        f"a registered strategy: {', '.join(STRATEGIES.names())} "
        f"(a plug-in adds more: docs/plugins.md)"
    )


def main(argv: list[str] | None = None, prog: str = PROG) -> int:
    """`prog`: the program as the user typed it (`vaal` for the console script)."""
    try:
        args = _parser(prog).parse_args(argv)  # an argument error: UsageError, one line below
        failpoints.configure_from_env()  # a mistyped VAAL_FAILPOINT fails before torch loads
        if args.command == "select":
            from .select import main as select_main

            return select_main(args)
        if args.tensorboard:  # before any run starts: launched runs inherit the switch
            from .run.tensorboard import switch_on

            switch_on()
        spec = load_spec(args.spec, args.set, protocol=args.protocol)
        from .datasets import (
            check_spec_dataset,  # torch: imported once the spec is known to be good
        )
        from .run.loop import ActiveLoop, preflight, run_dir_for
        from .storage import check_writable

        if args.command == "run":
            jobs = [(args.strategy, args.seed)]
        else:
            strategies = args.strategies.split(",") if args.strategies else list(spec.strategies)
            seeds = args.seeds or list(spec.seeds)
            jobs = [(s, k) for s in strategies for k in seeds]
        for strategy, _ in jobs:  # every name checked before any compute
            preflight(spec, strategy)
        for message in unused_keys(spec, dict.fromkeys(s for s, _ in jobs)):
            print(f"warning: {message}", file=sys.stderr)  # set, but never read by these runs
        for strategy, seed in jobs:  # an unwritable --out: refused before any compute
            where = run_dir_for(Path(args.out), spec, strategy, seed)
            check_writable(where, "the run directory", "choose a writable --out")
        check_spec_dataset(spec.dataset, args.data_root)  # missing data: before any run dir
        t0 = time.perf_counter()
        if getattr(args, "jobs", 1) > 1:
            from .run.parallel import run_parallel

            run_parallel(spec, jobs, args.jobs, args.out, args.data_root, args.wait)
        else:
            for strategy, seed in jobs:
                ActiveLoop(
                    spec,
                    strategy,
                    seed,
                    args.out,
                    args.data_root,
                    progress=not args.no_progress,
                    wait=args.wait,
                ).run()
        if args.command == "run":
            where = run_dir_for(Path(args.out), spec, args.strategy, args.seed)
            print(
                f"\nrun directory: {where}\nnext: python -m analysis report {args.out} --out figures"
            )
        else:
            print(f"\n{count(len(jobs), 'run')} finished in {time.perf_counter() - t0:.0f}s\n")
            return run_report(Path(args.out), Path(args.figures))
    except ExpectedError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "error: interrupted; the same command resumes after the last finished cycle",
            file=sys.stderr,
        )
        return 130
    return 0


def run_report(results: Path, figures: Path) -> int:
    """The demo's report, by the analysis command line in a child process: the engine never
    imports the layer that reads its logs."""
    cmd = [sys.executable, "-m", "analysis", "report", str(results), "--out", str(figures)]
    return subprocess.run(cmd, check=False).returncode


def console() -> None:
    """The `vaal` console script: the same command line as `python -m vaal_core`, named as the
    user typed it (`vaal --version` says `vaal 0.1.0`)."""
    sys.exit(main(prog=Path(sys.argv[0]).name or "vaal"))


if __name__ == "__main__":
    sys.exit(main())
