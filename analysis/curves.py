"""Learning curves in the paper's style: test metric (%) vs labeled data (%), bands over seeds,
the paper's own points overlaid under the paper's legend names.

A panel is drawn for every (dataset, experiment) with runs and for nothing else; what is missing
goes to the caption (`paper_figure`), never into an empty panel.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from vaal_core.words import count

from .canvas import (
    UNHEALTHY_LABEL,
    Captioned,
    NoFigure,
    band_line,
    captioned_figure,
    legend,
    mark_unhealthy,
    new_figure,
    save_figure,
    unhealthy_count,
)
from .expected import PAPER_FIGURES, PaperFigureSpec, missing_runs
from .paper_table import PAPER_KINDS, PAPER_METHODS
from .reference import REFERENCE_COLUMNS, dataset_key, load_reference
from .runs import HOW_TO_RUN
from .stats import TOPLINE, percent_scale
from .style import (
    DATASET_NAMES,
    metric_axis_label,
    rank,
    seeds_text,
    sort_strategies,
    strategy_color,
    strategy_label,
)
from .topline import ABOVE_TOPLINE_LABEL, topline_breaches

__all__ = [
    "plot_curves",
    "paper_figure",
    "paper_reference",
    "reference_left_out",
    "not_ablation",
    "with_percent",
    "draw_runs",
    "label_axes",
]

X, Y = "labeled (%)", "value (%)"
_INITIAL_POOL = "Initial pool"


def not_ablation(runs: pd.DataFrame) -> pd.DataFrame:
    """Runs of the main experiments (any training protocol), ablation experiments left out."""
    return runs[runs["ablation"].isna()] if "ablation" in runs else runs


def with_percent(df: pd.DataFrame) -> pd.DataFrame:
    """Add x/y columns in percent (fraction metrics x100, per metric) and the legend name."""
    df = df.copy()
    df[X] = df["fraction"] * 100
    df[Y] = df["value"]
    df["percent"] = True
    for _, idx in df.groupby("metric").groups.items():
        scale = percent_scale(df.loc[idx, "value"])
        df.loc[idx, Y] = df.loc[idx, "value"] * scale
        df.loc[idx, "percent"] = scale == 100 or df.loc[idx, "metric"].str.contains("percent").all()
    df["method"] = df["strategy"].map(strategy_label)
    return df


def draw_runs(
    ax: Axes, runs: pd.DataFrame, linestyle: str = "-", suffix: str = "", top: bool = True
) -> list[int]:
    """Mean curve with its band per strategy, plus the top-line if present; returns seed counts."""
    counts: list[int] = []
    curves = runs[runs["strategy"] != TOPLINE]
    for strategy in sort_strategies(curves["strategy"]):
        mine = curves[curves["strategy"] == strategy]
        label = strategy_label(strategy) + suffix
        percent = "percent" in mine and bool(mine["percent"].all())
        bounds = (0, 100) if percent else (None, None)
        counts += band_line(
            ax, mine, X, Y, label, strategy_color(strategy), linestyle, bounds=bounds
        )
        mark_unhealthy(ax, mine, X, Y)
    full = runs[runs["strategy"] == TOPLINE]
    if top and len(full):
        ax.axhline(
            full[Y].mean(),
            color=strategy_color(TOPLINE),
            linestyle="--",
            label=strategy_label(TOPLINE) + suffix,
        )
        mark_above_topline(ax, curves, full[Y].mean())
    return counts


def mark_above_topline(ax: Axes, curves: pd.DataFrame, top: float) -> int:
    """Ring every mean point above the top-line (the report names each and its likely cause);
    returns how many were ringed."""
    above = curves.groupby(["strategy", X])[Y].mean().reset_index()
    above = above[above[Y] > top]
    if len(above):
        ax.scatter(
            above[X],
            above[Y],
            s=140,
            facecolors="none",
            edgecolors="red",
            linewidths=1.5,
            zorder=4,
            label=ABOVE_TOPLINE_LABEL,
        )
    return len(above)


def paper_reference(ref: pd.DataFrame | None = None) -> pd.DataFrame:
    """The paper's own series (methods named as its legends name them), values present."""
    ref = load_reference() if ref is None else ref
    ok = ref["kind"].isin(PAPER_KINDS) & ref["mean"].notna()
    return ref[ok & ref["method"].isin(list(PAPER_METHODS))]


def reference_left_out(ref: pd.DataFrame) -> list[str]:
    """Why each paper-sourced series of `ref` is not drawn (one line per series)."""
    ref = ref[ref["kind"].isin(PAPER_KINDS) & ref["mean"].notna()]
    out = []
    for (dataset, method), _ in ref.groupby(["dataset", "method"], sort=True):
        if method in PAPER_METHODS:
            continue
        if str(method).startswith("UNRESOLVED:"):
            array = str(method).split(":", 1)[1]
            why = (
                f"{dataset}: the authors' result array '{array}' is left out; the paper's "
                "legend never names it"
            )
        else:
            why = f"{dataset}: '{method}' is left out; it is not a series of the VAAL paper"
        out.append(why)
    return out


def _draw_reference(ax: Axes, ref: pd.DataFrame) -> None:
    """Paper points as dashed lines/markers labelled '(paper)'; the shared initial pool joins
    each curve."""
    ref = paper_reference(ref)
    start = ref[ref["method"].str.startswith(_INITIAL_POOL)]
    rest = ref.drop(start.index)
    for method in sorted(rest["method"].unique(), key=lambda m: rank(PAPER_METHODS[m])):
        pts = rest[rest["method"] == method]
        exact = pts["verification_status"].astype(str).str.startswith("exact").all()
        label = f"{method} (paper{'' if exact else ', approx.'})"
        color = strategy_color(PAPER_METHODS[method])
        full = pts[pts["labeled_percent"] >= 100]
        for value in full["mean"]:
            ax.axhline(value, color=color, linestyle=":", label=label)
        pts = pd.concat([start, pts.drop(full.index)]).sort_values("labeled_percent")
        if len(pts) > 1:
            ax.plot(pts["labeled_percent"], pts["mean"], "--x", color=color, alpha=0.7, label=label)
        elif len(pts) == 1:
            ax.plot(
                pts["labeled_percent"], pts["mean"], "*", color=color, markersize=12, label=label
            )


def _seed_text(runs: pd.DataFrame) -> str:
    seeds = runs.groupby("strategy")["seed"].nunique()
    n = str(seeds.iloc[0]) if seeds.nunique() == 1 else f"{seeds.min()}-{seeds.max()}"
    return seeds_text(n)


def pool_sizes(runs: pd.DataFrame) -> tuple[int | None, int | None]:
    """(pool, test set) the runs' percentages and metric are of: the pool from the records
    (n_labeled / fraction), the test set from the runs' env.json; None where they disagree or
    are not recorded."""
    r = runs[pd.to_numeric(runs["fraction"], errors="coerce") > 0]
    pools = set((r["n_labeled"] / r["fraction"]).round().astype(int)) if len(r) else set()
    tests = set()
    for run_dir in runs["run_dir"].dropna().unique() if "run_dir" in runs else []:
        try:
            tests.add(int(json.loads((Path(run_dir) / "env.json").read_text())["test_size"]))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return (pools.pop() if len(pools) == 1 else None), (tests.pop() if len(tests) == 1 else None)


def pool_axis_label(runs: pd.DataFrame) -> str:
    """'Labeled data (% of the 10,000-image pool; 5,000 test images)': what the x axis is a
    percentage of, and what the metric was measured on."""
    pool, test = pool_sizes(runs)
    parts = [f"% of the {pool:,}-image pool" if pool else "% of the pool"]
    parts += [f"{test:,} test images"] if test else []
    return f"Labeled data ({'; '.join(parts)})"


def label_axes(ax: Axes, title: str, runs: pd.DataFrame, counts: Sequence[int]) -> None:
    """Title (with the seed count), axis labels with units, legend naming the band."""
    curves = runs[runs["strategy"] != TOPLINE]
    if len(curves):
        title += f" ({_seed_text(curves)})"
        low, high = ax.get_ylim()  # bands of few seeds can leave the metric's range
        if curves[Y].between(0, 100).all():
            ax.set_ylim(max(low, 0), min(high, 100))
    ax.set_title(title)
    ax.set_xlabel(pool_axis_label(runs))
    percent = bool(runs["percent"].all()) if "percent" in runs and len(runs) else True
    ax.set_ylabel(metric_axis_label(str(runs["metric"].iloc[0]) if len(runs) else "", percent))
    ax.grid(alpha=0.3)
    legend(ax, counts)


def plot_curves(
    df: pd.DataFrame,
    reference: pd.DataFrame | None = None,
    out: str | Path | None = None,
    datasets: Sequence[str] | None = None,
) -> Figure:
    """Metric (%) vs labeled data (%) with bands over seeds, one panel per dataset/experiment
    with runs.

    `reference` (from load_reference) is overlaid on the panel of its dataset; `datasets` picks
    the datasets and their order. Raises NoFigure when none of them has runs.
    """
    df = with_percent(df)
    top = df[df["strategy"] == TOPLINE]  # a full-data run is drawn on every panel of its dataset
    df = df[df["strategy"] != TOPLINE]
    ref = reference if reference is not None else pd.DataFrame(columns=REFERENCE_COLUMNS)
    ref_keys = ref["dataset"].map(dataset_key)
    keys = list(dict.fromkeys(df["dataset"].map(dataset_key)))
    if datasets is not None:
        keys = [k for k in dict.fromkeys(map(dataset_key, datasets)) if k in keys]
    panels = [
        (key, e)
        for key in keys
        for e in sorted(df.loc[df["dataset"].map(dataset_key) == key, "experiment"].unique())
    ]
    if not panels:
        raise NoFigure(f"no runs to draw curves of: run `make demo` ({HOW_TO_RUN})")
    fig, axes = new_figure(len(panels))
    for ax, (key, experiment) in zip(axes, panels, strict=True):
        runs = df[df["experiment"] == experiment]
        both = pd.concat([runs, top[top["dataset"].map(dataset_key) == key]])
        counts = draw_runs(ax, both)
        _draw_reference(ax, ref[ref_keys == key])
        name = DATASET_NAMES.get(key, str(runs["dataset"].iloc[0]))
        several = sum(k == key for k, _ in panels) > 1
        label_axes(ax, f"{name} ({experiment})" if several else name, runs, counts)
    if out is not None:
        save_figure(fig, out)
    return fig


def paper_figure(
    runs: pd.DataFrame,
    figure: str | Sequence[str],
    root: str | Path = "results",
    out: str | Path | None = None,
) -> Captioned:
    """One of the paper's curve figures ('classification', 'segmentation', or a list of datasets)
    from the runs there are, the paper's points overlaid, with a caption naming missing runs.

    Raises NoFigure, naming the commands that make the runs, when none of its datasets has runs.
    """
    if isinstance(figure, str):
        if figure not in PAPER_FIGURES:
            raise ValueError(
                f"unknown paper figure {figure!r}; choose one of {sorted(PAPER_FIGURES)} "
                "or pass a list of dataset names"
            )
        spec = PAPER_FIGURES[figure]
    else:
        spec = PaperFigureSpec.adhoc(list(figure))
    runs = not_ablation(runs)
    wanted = {dataset_key(d) for d in spec.datasets}
    runs = runs[runs["dataset"].map(dataset_key).isin(wanted)]
    missing = missing_runs(runs, spec.datasets, spec.expected(), spec.seeds, root, DATASET_NAMES)
    if runs[runs["strategy"] != TOPLINE].empty:
        raise NoFigure(f"{spec.title}: " + "; ".join(missing))
    everything = load_reference()
    ref = paper_reference(everything)
    fig = plot_curves(runs, reference=ref, datasets=list(spec.datasets))
    drawn = set(runs["dataset"].map(dataset_key))
    shown = ref[ref["dataset"].map(dataset_key).isin(drawn)]
    paper = (
        "Dashed/starred: the paper's numbers ("
        + "; ".join(sorted(set(shown["dataset"] + ": " + shown["verification_status"])))
        + ")."
        if len(shown)
        else "The paper's numbers for these datasets are not in analysis/reference_data."
    )
    left_out = reference_left_out(everything[everything["dataset"].map(dataset_key).isin(drawn)])
    bad = unhealthy_count(runs)
    above = topline_breaches(runs)
    body = [
        "Solid lines: mean over seeds of this suite's runs, shaded band as the legend says.",
        "Dashed horizontal: the top-line, the task model trained on the whole pool (mean over "
        "its seeds; its recipe in the report)."
        if (runs["strategy"] == TOPLINE).any()
        else "",
        f"Red rings: {count(len(above), 'mean point')} above the top-line (the report's warning "
        "names each and its likely cause)."
        if len(above)
        else "",
        paper,
        " ".join(s + "." for s in left_out),
        f"Black x: {count(bad, 'run point')} where the {UNHEALTHY_LABEL} (kept, "
        "not dropped; they measure training, not selection)."
        if bad
        else "No point flagged unhealthy (records without training health count as unknown).",
    ]
    return captioned_figure(fig, spec.title, body, missing, out)
