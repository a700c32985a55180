"""Every figure of the suite in one list: the report, the notebook and `make figures` draw from it.

An entry names its file stem, the function drawing it from the records (and the results root),
whether the records allow it, and what to run when they do not. A figure the records do not allow
is never drawn: no placeholder file, one line saying what to run instead. A new figure is one
function and one entry in `FIGURES`; `plots/make_notebook.py` gives it a cell.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from vaal_core.words import count

from .ablation_figures import ablation_commands, ablation_figure, family_runs
from .canvas import Captioned, captioned_figure
from .curves import not_ablation, paper_figure
from .diagnostic_figures import (
    NO_CLASSES,
    NO_DIAGNOSTICS,
    plot_query_classes,
    plot_vaal_diagnostics,
    vaal_diagnostics,
)
from .efficiency import NO_EFFICIENCY, label_efficiency_figure
from .expected import ABLATION_FAMILIES, PAPER_FIGURES
from .protocol_compare import PROTOCOL_HOW, protocol_figure
from .queries import chance_cycles, class_shares
from .reference import dataset_key
from .specs import dataset_command
from .stats import TOPLINE
from .style import dataset_name
from .timing import sampling_time_table
from .timing_figures import NO_QUERIES, plot_sampling_time, sampling_time_figure

__all__ = ["FigureEntry", "Drawn", "FIGURES", "figure_entry", "draw_figure", "draw_figures"]

Draw = Callable[[pd.DataFrame, Path], dict[str, Captioned]]


@dataclass(frozen=True)
class FigureEntry:
    """One figure (or one per dataset, stems `<name>_<dataset>`) and how to get it."""

    name: str  # the file stem, and the name `draw_figure` takes
    title: str  # heading in the notebook
    about: str  # what the figure shows, one paragraph
    draw: Draw  # {file stem: figure}; called only when `allows`
    allows: Callable[[pd.DataFrame], bool]  # do the records hold what it draws?
    how: Callable[[Path], str]  # what to run when they do not (one caption line)


@dataclass
class Drawn:
    """What one entry gave: its figures and files, or the line saying what to run instead."""

    entry: FigureEntry
    figures: dict[str, Captioned] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    not_drawn: str = ""

    def _ipython_display_(self) -> None:
        from IPython.display import display

        for captioned in self.figures.values():
            display(captioned)
        if self.not_drawn:
            print(f"not drawn: {self.not_drawn}")


# --- predicates and drawers --------------------------------------------------------------------
def _curves(runs: pd.DataFrame) -> pd.DataFrame:
    """Non-ablation runs that draw a curve (the top-line alone draws none)."""
    runs = not_ablation(runs)
    return runs[runs["strategy"] != TOPLINE]


def _keys(runs: pd.DataFrame) -> set[str]:
    return set(runs["dataset"].map(dataset_key))


def _paper_keys(figure: str) -> set[str]:
    return {dataset_key(d) for d in PAPER_FIGURES[figure].datasets}


def _paper_entry(figure: str, about: str) -> FigureEntry:
    spec = PAPER_FIGURES[figure]

    def how(root: Path) -> str:
        names = ", ".join(spec.datasets)
        commands = ", ".join(dict.fromkeys(f"`{dataset_command(d)}`" for d in spec.datasets))
        return f"no runs of {names} under {root}: run {commands}"

    return FigureEntry(
        figure,
        spec.title,
        about,
        lambda runs, root: {figure: paper_figure(runs, figure, root=root)},
        lambda runs: bool(_keys(_curves(runs)) & _paper_keys(figure)),
        how,
    )


def _other_datasets(runs: pd.DataFrame) -> list[str]:
    """Datasets with curves that none of the paper's figures shows (the MNIST demo, plug-ins)."""
    shown = set().union(*(_paper_keys(f) for f in PAPER_FIGURES))
    curves = _curves(runs)
    return sorted(k for k in _keys(curves) if k not in shown)


def _dataset_curves(runs: pd.DataFrame, root: Path) -> dict[str, Captioned]:
    keys = runs["dataset"].map(dataset_key)
    out = {}
    for key in _other_datasets(runs):
        name = str(runs.loc[keys == key, "dataset"].iloc[0])
        out[f"curves_{key}"] = paper_figure(runs, [dataset_name(name)], root=root)
    return out


def _protocol_datasets(runs: pd.DataFrame) -> list[str]:
    curves = _curves(runs)
    per = curves.groupby(curves["dataset"].map(dataset_key))["protocol"].nunique()
    return sorted(per[per > 1].index)


def _protocols(runs: pd.DataFrame, root: Path) -> dict[str, Captioned]:
    out = {}
    for key in _protocol_datasets(runs):
        fig = protocol_figure(runs, key)
        body = ["One panel per training protocol, y axes shared; shaded band as the legend says."]
        out[f"protocols_{key}"] = captioned_figure(
            fig, f"{dataset_name(key)} under each training protocol", body, [], None
        )
    return out


def _bare(title: str, body: str, draw: Callable[..., Figure], stem: str) -> Draw:
    """A drawer for a figure function that returns a bare Figure: the caption added here."""

    def drawer(runs: pd.DataFrame, root: Path) -> dict[str, Captioned]:
        return {stem: captioned_figure(draw(runs, root=root), title, [body], [], None)}

    return drawer


def _vaal_diagnostics(runs: pd.DataFrame, root: Path) -> dict[str, Captioned]:
    fig = plot_vaal_diagnostics(runs, root=root)
    chance = chance_cycles(runs)
    body = [
        "Discriminator ROC-AUC on held-out labeled vs unlabeled images per cycle (hatched: its",
        "chance band, Hanley & McNeil 1982), active latent units (Burda et al. 2016) and the mean",
        "P(labeled) the discriminator gives; shaded band as the legend says.",
        f"{count(len(chance), 'VAAL cycle')} selected at chance.",
    ]
    title = "VAAL diagnostics"
    return {"vaal_diagnostics": captioned_figure(fig, title, body, [], None)}


def _ablation_entry(family: str) -> FigureEntry:
    fam = ABLATION_FAMILIES[family]
    stem = f"ablation_{family}"

    def how(root: Path) -> str:
        commands = ", ".join(f"`{c}`" for c in ablation_commands(family)) or "a shipped spec"
        return f"no {fam.title.lower()} runs under {root}: run {commands}"

    return FigureEntry(
        stem,
        f"Ablation: {fam.title}",
        "Experiments named `ablation_<kind>_<dataset>` (solid) against the same dataset's runs "
        "without ablation (dashed).",
        lambda runs, root: {stem: ablation_figure(runs, family, root=root)},
        lambda runs: not family_runs(runs, family).empty,
        how,
    )


def _efficiency_allows(runs: pd.DataFrame) -> bool:
    curves = runs[runs["strategy"] != TOPLINE]
    return any(
        (exp["strategy"] == "random").any() and exp["strategy"].nunique() > 1
        for _, exp in curves.groupby("experiment")
    )


FIGURES: list[FigureEntry] = [
    _paper_entry(
        "classification",
        "CIFAR10, CIFAR100, Caltech-256 and ImageNet: accuracy vs labeled data, the paper's points "
        "overlaid (ImageNet: exact, from the authors' arrays; others approximate).",
    ),
    _paper_entry(
        "segmentation",
        "Cityscapes and BDD100K: mIoU vs labeled data, the paper's points overlaid where known.",
    ),
    FigureEntry(
        "curves",
        "Learning curves of the other datasets",
        "Datasets none of the paper's figures shows (the MNIST demo, plug-in datasets): one "
        "figure each, `curves_<dataset>`.",
        _dataset_curves,
        lambda runs: bool(_other_datasets(runs)),
        lambda root: (
            f"no runs of a dataset outside the paper's figures under {root}: run "
            "`make demo` (MNIST)"
        ),
    ),
    FigureEntry(
        "protocols",
        "One dataset under each training protocol",
        "`--protocol paper|release|modern` runs land in `<experiment>@<protocol>`: one figure per "
        "dataset run under two protocols or more, `protocols_<dataset>`.",
        _protocols,
        lambda runs: bool(_protocol_datasets(runs)),
        lambda root: f"no dataset run under two training protocols under {root}: {PROTOCOL_HOW}",
    ),
    *(_ablation_entry(f) for f in ABLATION_FAMILIES),
    FigureEntry(
        "label_efficiency",
        "Label efficiency",
        "Labels each strategy needs to reach random's mean at a target, read off the mean curves "
        "by linear interpolation (experiments without ablation).",
        lambda runs, root: {
            "label_efficiency": label_efficiency_figure(not_ablation(runs), root=root)
        },
        lambda runs: _efficiency_allows(not_ablation(runs)),
        lambda root: NO_EFFICIENCY.format(baseline="random", root=root),
    ),
    FigureEntry(
        "sampling_time_table",
        "Sampling time per selection (table)",
        "Seconds of each run's first query (same unlabeled pool for every strategy), naming the "
        "hardware, as the paper's table.",
        lambda runs, root: {"sampling_time_table": sampling_time_figure(runs, root=root)},
        lambda runs: not sampling_time_table(not_ablation(runs)).empty,
        lambda root: NO_QUERIES.format(root=root),
    ),
    FigureEntry(
        "sampling_time",
        "Sampling time per selection (bars)",
        "The same seconds as bars, one panel per experiment.",
        _bare(
            "Sampling time",
            "Seconds of each run's first query, mean over seeds; error bars and hardware per "
            "panel title.",
            lambda runs, root: plot_sampling_time(not_ablation(runs), root=root),
            "sampling_time",
        ),
        lambda runs: not sampling_time_table(not_ablation(runs)).empty,
        lambda root: NO_QUERIES.format(root=root),
    ),
    FigureEntry(
        "vaal_diagnostics",
        "VAAL diagnostics",
        "What VAAL's discriminator learned per cycle: an AUC inside its chance band means the "
        "query was random.",
        _vaal_diagnostics,
        lambda runs: not vaal_diagnostics(runs).empty,
        lambda root: NO_DIAGNOSTICS.format(root=root),
    ),
    FigureEntry(
        "query_classes",
        "Classes of the queried images",
        "True-class shares of each strategy's queries per cycle, and their distance from random's.",
        _bare(
            "Classes of the queried images",
            "True-class shares of the queried images per cycle, seeds pooled; TV: mean total "
            "variation distance from random's queries at the same cycles (from uniform where "
            "random was not run).",
            lambda runs, root: plot_query_classes(runs, root=root),
            "query_classes",
        ),
        lambda runs: not class_shares(runs).empty,
        lambda root: NO_CLASSES.format(root=root),
    ),
]


def figure_entry(name: str) -> FigureEntry:
    """The entry `name`; an unknown name is an error listing the known ones."""
    for entry in FIGURES:
        if entry.name == name:
            return entry
    raise KeyError(f"unknown figure {name!r}; figures: {', '.join(e.name for e in FIGURES)}")


def draw_figure(
    name: str | FigureEntry,
    runs: pd.DataFrame,
    root: str | Path = "results",
    out_dir: str | Path | None = None,
) -> Drawn:
    """Draw one entry when the records allow it (saved under `out_dir` as png, pdf and caption
    txt), else say what to run; never a placeholder."""
    entry = name if isinstance(name, FigureEntry) else figure_entry(name)
    root = Path(root)
    if not entry.allows(runs):
        return Drawn(entry, not_drawn=f"{entry.name}: {entry.how(root)}")
    drawn = Drawn(entry, entry.draw(runs, root))
    if out_dir is not None:
        for stem, captioned in drawn.figures.items():
            drawn.files += captioned.save(Path(out_dir) / stem)
    return drawn


def draw_figures(
    runs: pd.DataFrame,
    root: str | Path = "results",
    out_dir: str | Path | None = None,
    entries: Iterable[FigureEntry] | None = None,
) -> list[Drawn]:
    """Every entry of FIGURES (or `entries`), in order."""
    return [draw_figure(e, runs, root, out_dir) for e in (FIGURES if entries is None else entries)]
