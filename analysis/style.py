"""What every figure and table calls things: strategy, dataset and metric names, one colour each.

Strategies are named as the paper's legends name them ("VAAL", "Core-set", ...). A strategy this
table does not know (a plug-in) is named and coloured by its registered class
(`vaal_core.strategies.STRATEGIES`, attributes `display_name` and `color`), else by its own name and
a spare colour. No strategy shares a colour with another or with a marker (`MARKER_COLORS`), so a
colour always means one thing.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable

from matplotlib.colors import is_color_like, to_hex

from .reference import dataset_key
from .stats import TOPLINE

__all__ = [
    "STRATEGY_LABELS",
    "STRATEGY_COLORS",
    "MARKER_COLORS",
    "UNHEALTHY_COLOR",
    "DATASET_NAMES",
    "strategy_label",
    "strategy_color",
    "dataset_name",
    "metric_axis_label",
    "rank",
    "sort_strategies",
    "seeds_text",
]

STRATEGY_LABELS = {
    "vaal": "VAAL",
    "random": "Random",
    "coreset": "Core-set",
    "mc_dropout": "MC-Dropout",
    "dbal": "DBAL",
    "ensemble_varr": "Ensembles w. VarR",
    "badge": "BADGE",
    "typiclust": "TypiClust",
    "entropy": "Entropy",
    "margin": "Margin",
    "least_confidence": "Least confidence",
    "qbc": "QBC",
    "suggestive_annotation": "Suggestive annotation",
    TOPLINE: "Top-line (100%)",
}
STRATEGY_COLORS = {
    "vaal": "#d62728",
    "random": "#1f77b4",
    "coreset": "#2ca02c",
    "mc_dropout": "#ff7f0e",
    "dbal": "#8c564b",
    "ensemble_varr": "#9467bd",
    "badge": "#bcbd22",
    "typiclust": "#17becf",
    "entropy": "#e377c2",
    "margin": "#c5b0d5",
    "least_confidence": "#aec7e8",
    "qbc": "#ffbb78",
    "suggestive_annotation": "#98df8a",
    TOPLINE: "#555555",
}
UNHEALTHY_COLOR = "#000000"  # the x on a point whose task model did not fit its labeled set
MARKER_COLORS = {"unhealthy": UNHEALTHY_COLOR}
# plug-in strategies without a colour of their own; none is a built-in's or a marker's
_SPARE = ["#843c39", "#637939", "#7b4173", "#393b79", "#8c6d31", "#e7969c", "#9c9ede"]
_ORDER = list(STRATEGY_LABELS)
_TAKEN = {to_hex(c) for c in [*STRATEGY_COLORS.values(), *MARKER_COLORS.values()]}

DATASET_NAMES = {
    "mnist": "MNIST",
    "cifar10": "CIFAR10",
    "cifar100": "CIFAR100",
    "caltech256": "Caltech-256",
    "imagenet": "ImageNet",
    "cityscapes": "Cityscapes",
    "bdd100k": "BDD100K",
}
_METRIC_NAMES = {
    "accuracy": "Test accuracy",
    "top1_accuracy_percent": "Test accuracy",
    "miou": "Test mIoU",
    "miou_percent": "Test mIoU",
}


def _registered(strategy: str) -> type | None:
    """The class registered under `strategy` (plug-ins loaded), None when there is none.

    Imported late: the engine's strategy module brings torch, which tables and figures of known
    strategies never need. A miss is not remembered: a plug-in may register later.
    """
    try:
        from vaal_core.strategies import STRATEGIES

        return STRATEGIES.get(strategy)
    except (ImportError, LookupError, ValueError, TypeError):
        return None


def strategy_label(strategy: str) -> str:
    """The paper's legend name of a strategy; a plug-in's `display_name`, else its name."""
    if strategy in STRATEGY_LABELS:
        return STRATEGY_LABELS[strategy]
    name = getattr(_registered(strategy), "display_name", "")
    return name if isinstance(name, str) and name.strip() else strategy


def strategy_color(strategy: str) -> str:
    """One colour per strategy in every figure; a plug-in's own `color` when it is a colour no
    built-in strategy or marker uses, else a stable spare."""
    if strategy in STRATEGY_COLORS:
        return STRATEGY_COLORS[strategy]
    own = getattr(_registered(strategy), "color", None)
    if isinstance(own, str) and is_color_like(own) and to_hex(own) not in _TAKEN:
        return to_hex(own)
    return _SPARE[zlib.crc32(strategy.encode()) % len(_SPARE)]


def dataset_name(name: str) -> str:
    """Display name of a dataset (the paper's spelling when known)."""
    return DATASET_NAMES.get(dataset_key(name), str(name))


def experiment_title(df, experiment: str) -> str:
    """A panel's title for one experiment of `df`: its dataset's display name; the experiment
    named after it only where the frame holds several experiments of that dataset."""
    runs = df.drop_duplicates("experiment")
    dataset = runs.loc[runs["experiment"] == experiment, "dataset"]
    if dataset.empty:
        return str(experiment)
    key = dataset_key(dataset.iloc[0])
    name = dataset_name(dataset.iloc[0])
    several = (runs["dataset"].map(dataset_key) == key).sum() > 1
    return f"{name} ({experiment})" if several else name


def metric_axis_label(metric: str, percent: bool = True) -> str:
    """Axis label of a metric with its unit: 'Test accuracy (%)', 'Test mIoU (%)'."""
    name = _METRIC_NAMES.get(str(metric).lower(), f"Test {metric}")
    return f"{name} (%)" if percent else f"{name} (as logged)"


def rank(strategy: str) -> tuple[int, str]:
    """Sort key giving the paper's legend order, unknown names last."""
    return (_ORDER.index(strategy) if strategy in _ORDER else len(_ORDER), strategy)


def sort_strategies(names: Iterable[str]) -> list[str]:
    return sorted(set(names), key=rank)


def seeds_text(n: int | str) -> str:
    """'1 seed', '3 seeds', '2-5 seeds'."""
    return f"{n} seed" if str(n) == "1" else f"{n} seeds"
