"""Which runs each of the paper's figures needs, so a figure can say what it is still missing.

Sinha, Ebrahimi, Darrell, "Variational Adversarial Active Learning", ICCV 2019: classification on
CIFAR10/100, Caltech-256 and ImageNet, segmentation on Cityscapes and BDD100K, robustness to a
biased initial pool, the budget size and a noisy oracle, an ablation of VAAL's own parts, and a
table of sampling times. Every curve there averages 5 runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from .reference import dataset_key

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
]

PAPER_SEEDS = 5  # "averaged over 5 runs" (Sinha et al. 2019, Sec. 4)
_CLASSIFICATION_METHODS = ("vaal", "random", "coreset", "ensemble_varr", "mc_dropout", "dbal")
_SEGMENTATION_METHODS = ("vaal", "random", "coreset", "ensemble_varr", "mc_dropout", "qbc")
SAMPLING_TIME_STRATEGIES = ("vaal", "coreset", "ensemble_varr", "mc_dropout", "dbal")


@dataclass(frozen=True)
class PaperFigureSpec:
    """A paper figure of learning curves: its datasets and the methods each panel should show."""

    name: str
    title: str
    datasets: tuple[str, ...]
    strategies: tuple[str, ...] = ()
    seeds: int = PAPER_SEEDS
    metric: str = ""  # the y label of panels that have no runs yet

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
            _CLASSIFICATION_METHODS,
            metric="accuracy",
        ),
        PaperFigureSpec(
            "segmentation",
            "Semantic segmentation (mIoU)",
            ("Cityscapes", "BDD100K"),
            _SEGMENTATION_METHODS,
            metric="miou",
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
    """The make target that runs every strategy and seed of an experiment spec."""
    prefix = "ablations/" if experiment.startswith("ablation_") else ""
    return f"make reproduce-{prefix}{experiment}"


def missing_runs(
    runs: pd.DataFrame,
    datasets: Sequence[str],
    strategies: Sequence[str],
    seeds: int,
    root: object,
    display: dict[str, str],
) -> list[str]:
    """One line per dataset without runs, strategy not run, or strategy with fewer complete seeds."""
    out = []
    keys = runs["dataset"].map(dataset_key)
    for dataset in datasets:
        key = dataset_key(dataset)
        name = display.get(key, dataset)
        got = runs[keys == key]
        if got.empty:
            out.append(f"no runs for {name} under {root}: run `make reproduce-{key}`")
            continue
        absent = [s for s in strategies if not (got["strategy"] == s).any()]
        if absent:
            out.append(f"{name}: {', '.join(absent)} not run")
        for strategy in strategies:
            mine = got[got["strategy"] == strategy]
            n = mine.loc[mine["complete"], "seed"].nunique()
            if len(mine) and n < seeds:
                out.append(f"{name}: {strategy} has {n}/{seeds} complete seeds")
    return out
