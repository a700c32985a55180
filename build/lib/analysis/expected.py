"""Which runs each of the paper's figures needs, so a figure can say what it is still missing.

Sinha, Ebrahimi, Darrell, "Variational Adversarial Active Learning", ICCV 2019: classification on
CIFAR10/100, Caltech-256 and ImageNet, segmentation on Cityscapes and BDD100K, robustness to a
biased initial pool, the budget size and a noisy oracle, an ablation of VAAL's own parts, and a
table of sampling times. Every curve there averages 5 runs.

Which strategies each dataset should show, and the command that runs them, come from the shipped
specs (`analysis.specs`), never from a list kept here by hand.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from .reference import dataset_key
from .specs import dataset_command, dataset_strategies, spec_for_experiment

__all__ = [
    "PAPER_SEEDS",
    "PaperFigureSpec",
    "AblationFamily",
    "PAPER_FIGURES",
    "ABLATION_FAMILIES",
    "SAMPLING_TIME_STRATEGIES",
    "ablation_family",
    "missing_runs",
    "reproduce_command",
    "timed_strategies",
]

PAPER_SEEDS = 5  # "averaged over 5 runs" (Sinha et al. 2019, Sec. 4)
SAMPLING_TIME_STRATEGIES = ("vaal", "coreset", "ensemble_varr", "mc_dropout", "dbal")
_NOT_TIMED = {"random", "full"}  # no query to time


@dataclass(frozen=True)
class PaperFigureSpec:
    """A paper figure of learning curves: its datasets and the methods each panel should show."""

    name: str
    title: str
    datasets: tuple[str, ...]
    strategies: tuple[str, ...] = ()
    seeds: int = PAPER_SEEDS
    metric: str = ""  # the y label of panels that have no runs yet
    from_specs: bool = False  # expected strategies per dataset: those its shipped spec runs

    def expected(self) -> dict[str, tuple[str, ...]]:
        """Strategies expected per dataset (the shipped spec's list when `from_specs`)."""
        return {
            d: dataset_strategies(d) if self.from_specs else self.strategies for d in self.datasets
        }

    @classmethod
    def adhoc(cls, datasets: Sequence[str]) -> PaperFigureSpec:
        """Curves of any datasets (e.g. the MNIST demo): only datasets without runs are 'missing'."""
        return cls("adhoc", ", ".join(datasets), tuple(datasets), (), 1)


@dataclass(frozen=True)
class AblationFamily:
    """Ablation experiments `ablation_<kind>_<dataset>` whose kind starts with one of `prefixes`.

    `kinds` are the variants the paper reports; `per_variant` draws variants as lines of one panel
    (VAAL's own parts) instead of one panel per variant with every strategy in it.
    """

    name: str
    title: str
    prefixes: tuple[str, ...]
    kinds: tuple[str, ...]
    strategies: tuple[str, ...]
    per_variant: bool = False

    def matches(self, kind: object) -> bool:
        return isinstance(kind, str) and kind.startswith(self.prefixes)


PAPER_FIGURES: dict[str, PaperFigureSpec] = {
    spec.name: spec
    for spec in (
        PaperFigureSpec(
            "classification",
            "Image classification",
            ("CIFAR10", "CIFAR100", "Caltech-256", "ImageNet"),
            metric="accuracy",
            from_specs=True,
        ),
        PaperFigureSpec(
            "segmentation",
            "Semantic segmentation (mIoU)",
            ("Cityscapes", "BDD100K"),
            metric="miou",
            from_specs=True,
        ),
    )
}

ABLATION_FAMILIES: dict[str, AblationFamily] = {
    fam.name: fam
    for fam in (
        AblationFamily(
            "noise",
            "Noisy oracle",
            ("noise",),
            ("noise10", "noise20", "noise30"),
            ("vaal", "random"),
        ),
        AblationFamily("budget", "Budget size", ("budget",), ("budget_small",), ("vaal", "random")),
        AblationFamily(
            "biased", "Biased initial pool", ("biased",), ("biased",), ("vaal", "random")
        ),
        AblationFamily(
            "vaal",
            "VAAL's own parts (adversary off, fixed VAE, KL mean)",
            ("noadv", "fixedvae", "klmean"),
            ("noadv", "fixedvae", "klmean"),
            ("vaal",),
            per_variant=True,
        ),
    )
}


def ablation_family(kind: object) -> str | None:
    """Name of the family an ablation kind belongs to, None when it belongs to none."""
    return next((f.name for f in ABLATION_FAMILIES.values() if f.matches(kind)), None)


def reproduce_command(experiment: str) -> str:
    """`make <target>` of the shipped spec making `experiment`, or what to write when none does."""
    spec = spec_for_experiment(experiment)
    if spec is not None:
        return spec.command
    folder = "experiments/ablations/" if experiment.startswith("ablation_") else "experiments/"
    return f"no shipped spec makes {experiment}: write one under {folder}"


def timed_strategies(experiment: str) -> tuple[str, ...]:
    """Strategies whose sampling time an experiment should show: its spec's, else the paper's."""
    spec = spec_for_experiment(experiment)
    if spec is None:
        return SAMPLING_TIME_STRATEGIES
    return tuple(s for s in spec.strategies if s not in _NOT_TIMED)


def _how(command: str) -> str:
    """'run `make x`' for a command, the sentence itself when no shipped spec makes the runs."""
    return f"run `{command}`" if command.startswith("make ") else command


def missing_runs(
    runs: pd.DataFrame,
    datasets: Sequence[str],
    strategies: Sequence[str] | Mapping[str, Sequence[str]],
    seeds: int,
    root: object,
    display: dict[str, str],
) -> list[str]:
    """One line per dataset without runs, strategy not run, or strategy with fewer complete seeds.

    `strategies`: one list for every dataset, or a list per dataset name.
    """
    out = []
    keys = runs["dataset"].map(dataset_key)
    for dataset in datasets:
        key = dataset_key(dataset)
        name = display.get(key, dataset)
        got = runs[keys == key]
        if got.empty:
            out.append(f"no runs for {name} under {root}: {_how(dataset_command(dataset))}")
            continue
        if isinstance(strategies, Mapping):
            wanted = tuple(strategies.get(dataset, ()))
        else:
            wanted = tuple(strategies)
        absent = [s for s in wanted if not (got["strategy"] == s).any()]
        if absent:
            out.append(f"{name}: {', '.join(absent)} not run ({_how(dataset_command(dataset))})")
        for strategy in wanted:
            mine = got[got["strategy"] == strategy]
            n = mine.loc[mine["complete"], "seed"].nunique()
            if len(mine) and n < seeds:
                out.append(f"{name}: {strategy} has {n}/{seeds} complete seeds")
    return out
