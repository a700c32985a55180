"""The `select` subcommand: its arguments, the checks before any compute, one round and what
to do next."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..cli import add_spec_overrides, non_negative_int, positive_int
from ..errors import DatasetError, SpecError, UsageError
from ..failpoints import configure_from_env
from ..spec import Spec, load_spec
from ..storage import check_writable
from ..words import count
from .inputs import Request, list_images, read_labels
from .rounds import SELECTION, run_round


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
    from ..strategies import STRATEGIES, check_owned_options, check_strategy_supports, supports

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
