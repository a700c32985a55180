"""Figures in the paper's style: accuracy vs labeled %, one fixed colour and legend name per method.

Figures are built on `matplotlib.figure.Figure` with the Agg canvas, never through pyplot, so they
work headless, leak no global state, and are returned for the caller (or a notebook) to show.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from scipy import stats

from .reference import REFERENCE_COLUMNS, dataset_key, load_reference
from .stats import TOPLINE, percent_scale

__all__ = [
    "STRATEGY_LABELS",
    "STRATEGY_COLORS",
    "strategy_label",
    "strategy_color",
    "dataset_name",
    "save_figure",
    "plot_curves",
    "plot_sampling_time",
    "plot_ablation",
    "paper_figure",
]

STRATEGY_LABELS = {
    "vaal": "VAAL (ours)",
    "random": "Random",
    "coreset": "Core-set",
    "ensemble_varr": "Ensembles w. VarR",
    "mc_dropout": "MC-Dropout",
    "dbal": "DBAL",
    "qbc": "QBC",
    TOPLINE: "Top-line (full data)",
}
STRATEGY_COLORS = {
    "vaal": "#d62728",
    "random": "#1f77b4",
    "coreset": "#2ca02c",
    "ensemble_varr": "#9467bd",
    "mc_dropout": "#ff7f0e",
    "dbal": "#8c564b",
    "qbc": "#e377c2",
    TOPLINE: "#000000",
}
_ORDER = list(STRATEGY_LABELS)
_SPARE = ["#17becf", "#bcbd22", "#7f7f7f", "#aec7e8", "#98df8a", "#ffbb78"]
# Legend names used in the paper's reference files, mapped back to engine names for colours.
_PAPER_METHOD = {"VAAL": "vaal", **{v: k for k, v in STRATEGY_LABELS.items()}}
_INITIAL_POOL = "Initial pool"
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
    "accuracy": "Accuracy",
    "top1_accuracy_percent": "Accuracy",
    "miou": "mIoU",
    "miou_percent": "mIoU",
}
_PAPER_KINDS = {"paper_npy", "secondhand_quote"}  # third-party reproductions are not the paper


def strategy_label(strategy: str) -> str:
    """The paper's legend name for an engine strategy name."""
    return STRATEGY_LABELS.get(strategy, strategy)


def strategy_color(strategy: str) -> str:
    """One colour per strategy in every figure; unknown names get a stable spare colour."""
    if strategy in STRATEGY_COLORS:
        return STRATEGY_COLORS[strategy]
    return _SPARE[zlib.crc32(strategy.encode()) % len(_SPARE)]


def dataset_name(name: str) -> str:
    """Display name of a dataset (the paper's spelling when known)."""
    return DATASET_NAMES.get(dataset_key(name), name)


def _rank(strategy: str) -> tuple[int, str]:
    """Sort key giving the paper's legend order, unknown names last."""
    return (_ORDER.index(strategy) if strategy in _ORDER else len(_ORDER), strategy)


def _sort_strategies(names: Iterable[str]) -> list[str]:
    return sorted(set(names), key=_rank)


def _t_interval(values: pd.Series) -> tuple[float, float]:
    """95% t-interval of the mean over seeds (seaborn errorbar callable); a point below 2 seeds."""
    v = np.asarray(values, dtype=float)
    m = float(v.mean())
    if len(v) < 2:
        return m, m
    h = float(stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v)))
    return m - h, m + h


def _new_figure(
    n_panels: int, width: float = 5.0, height: float = 4.0
) -> tuple[Figure, list[Axes]]:
    ncols = max(1, min(n_panels, 3))
    nrows = max(1, math.ceil(n_panels / ncols))
    fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
    FigureCanvasAgg(fig)
    axes = list(fig.subplots(nrows, ncols, squeeze=False).ravel())
    for ax in axes[n_panels:]:
        ax.set_visible(False)
    return fig, axes[:n_panels]


def save_figure(fig: Figure, out: str | Path) -> list[Path]:
    """Write `<out>.png` and `<out>.pdf` (a trailing .png/.pdf in `out` is ignored)."""
    stem = Path(out)
    if stem.suffix.lower() in {".png", ".pdf"}:
        stem = stem.with_suffix("")
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.parent / f"{stem.name}.png", stem.parent / f"{stem.name}.pdf"]
    for path in paths:
        fig.savefig(path, dpi=150, bbox_inches="tight")
    return paths


def _with_percent(df: pd.DataFrame) -> pd.DataFrame:
    """Add x/y columns in percent and the legend label used by every curve plot."""
    df = df.copy()
    df["labeled (%)"] = df["fraction"] * 100
    df["value (%)"] = df["value"]
    for _, idx in df.groupby("metric").groups.items():
        df.loc[idx, "value (%)"] = df.loc[idx, "value"] * percent_scale(df.loc[idx, "value"])
    df["method"] = df["strategy"].map(strategy_label)
    return df


def _draw_runs(ax: Axes, runs: pd.DataFrame, style: str | None = None) -> None:
    """Mean curve with a 95% t-band over seeds per strategy, plus the top-line if present."""
    curves = runs[runs["strategy"] != TOPLINE]
    if len(curves):
        order = _sort_strategies(curves["strategy"])
        sns.lineplot(
            data=curves,
            x="labeled (%)",
            y="value (%)",
            hue="method",
            hue_order=[strategy_label(s) for s in order],
            palette={strategy_label(s): strategy_color(s) for s in order},
            style=style,
            errorbar=_t_interval,
            marker="o",
            ax=ax,
        )
    top = runs[runs["strategy"] == TOPLINE]
    if len(top):
        ax.axhline(
            top["value (%)"].mean(),
            color=strategy_color(TOPLINE),
            linestyle="--",
            label=strategy_label(TOPLINE),
        )


def _draw_reference(ax: Axes, ref: pd.DataFrame) -> None:
    """Paper points as dashed lines/markers labelled '(paper)'; shared initial pool joins each curve."""
    ref = ref[ref["kind"].isin(_PAPER_KINDS) & ref["mean"].notna()]
    start = ref[ref["method"].str.startswith(_INITIAL_POOL)]
    rest = ref.drop(start.index)
    for method in sorted(rest["method"].unique(), key=lambda m: _rank(_PAPER_METHOD.get(m, m))):
        strategy = _PAPER_METHOD.get(method, method)
        pts = rest[rest["method"] == method]
        exact = pts["verification_status"].str.startswith("exact").all()
        tag = "" if "paper" in method.lower() else "paper"
        tag = ", ".join(t for t in (tag, "" if exact else "approx.") if t)
        label = f"{method} ({tag})"
        color = strategy_color(strategy)
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


def _label_axes(ax: Axes, title: str, metric: str, runs: pd.DataFrame | None = None) -> None:
    """Titles, labels and legend; the seed count goes in the title since bands depend on it."""
    curves = runs[runs["strategy"] != TOPLINE] if runs is not None else None
    if curves is not None and len(curves):
        seeds = curves.groupby("strategy")["seed"].nunique()
        n = str(seeds.iloc[0]) if seeds.nunique() == 1 else f"{seeds.min()}-{seeds.max()}"
        title += f" ({n} seed{'s' if n != '1' else ''}, 95% CI)"
        low, high = ax.get_ylim()  # t-bands of few seeds can leave the metric's range
        if curves["value (%)"].between(0, 100).all():
            ax.set_ylim(max(low, 0), min(high, 100))
    ax.set_title(title)
    ax.set_xlabel("Labeled data (%)")
    ax.set_ylabel(f"{_METRIC_NAMES.get(metric.lower(), metric)} (%)")
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize="small")


def plot_curves(
    df: pd.DataFrame,
    reference: pd.DataFrame | None = None,
    out: str | Path | None = None,
    datasets: Sequence[str] | None = None,
) -> Figure:
    """Metric (%) vs labeled data (%) with 95% bands over seeds, one panel per dataset/experiment.

    `reference` (from load_reference) is overlaid on the panel of its dataset; `datasets` fixes the
    panels and their order, and lets a dataset with reference points but no runs get a panel.
    """
    df = _with_percent(df)
    top = df[df["strategy"] == TOPLINE]  # a full-data run is drawn on every panel of its dataset
    df = df[df["strategy"] != TOPLINE]
    ref = reference if reference is not None else pd.DataFrame(columns=REFERENCE_COLUMNS)
    ref_keys = ref["dataset"].map(dataset_key)
    keys = [dataset_key(d) for d in datasets] if datasets is not None else None
    if keys is None:
        keys = list(dict.fromkeys(pd.concat([df, top])["dataset"].map(dataset_key)))
        if not keys:
            keys = list(dict.fromkeys(ref_keys))
    panels: list[tuple[str, str | None]] = []  # (dataset key, experiment or None)
    for key in keys:
        exps = sorted(df.loc[df["dataset"].map(dataset_key) == key, "experiment"].unique())
        panels += [(key, e) for e in exps] or [(key, None)]
    fig, axes = _new_figure(len(panels))
    for ax, (key, experiment) in zip(axes, panels, strict=True):
        runs = df[df["experiment"] == experiment]
        _draw_runs(ax, pd.concat([runs, top[top["dataset"].map(dataset_key) == key]]))
        panel_ref = ref[ref_keys == key]
        _draw_reference(ax, panel_ref)
        name = DATASET_NAMES.get(key, runs["dataset"].iloc[0] if len(runs) else key)
        several = sum(k == key for k, _ in panels) > 1
        source = runs if len(runs) else panel_ref
        metric = str(source["metric"].iloc[0]) if len(source) else ""
        _label_axes(ax, f"{name} ({experiment})" if several else name, metric, runs)
    if out is not None:
        save_figure(fig, out)
    return fig


def plot_sampling_time(df: pd.DataFrame, out: str | Path | None = None) -> Figure:
    """Mean wall-clock seconds per query step for each strategy, one panel per experiment."""
    df = df[df["strategy"] != TOPLINE]
    queried = df["n_selected"].fillna(0).astype(float) > 0
    if queried.any():
        df = df[queried]
    per_run = df.groupby(["experiment", "strategy", "seed"], as_index=False)["query_s"].mean()
    per_run["method"] = per_run["strategy"].map(strategy_label)
    experiments = sorted(per_run["experiment"].unique())
    fig, axes = _new_figure(
        max(1, len(experiments)), width=max(4.0, 1.2 * df["strategy"].nunique() + 2)
    )
    for ax, experiment in zip(axes, experiments, strict=False):
        runs = per_run[per_run["experiment"] == experiment]
        order = _sort_strategies(runs["strategy"])
        sns.barplot(
            data=runs,
            x="method",
            y="query_s",
            hue="method",
            order=[strategy_label(s) for s in order],
            palette={strategy_label(s): strategy_color(s) for s in order},
            errorbar=_t_interval,
            ax=ax,
        )
        means = runs.groupby("strategy")["query_s"].mean()  # a fast strategy's bar is invisible
        ax.set_xticks(range(len(order)), [f"{strategy_label(s)}\n{means[s]:.3g} s" for s in order])
        ax.set_title(experiment)
        ax.set_xlabel("")
        ax.set_ylabel("Sampling time per query (s)")
        ax.tick_params(axis="x", labelrotation=30)
    if out is not None:
        save_figure(fig, out)
    return fig


def plot_ablation(df: pd.DataFrame, out: str | Path | None = None) -> Figure:
    """Curves of the ablation experiments (protocol != 'standard'), one panel per protocol."""
    df = df[(df["protocol"] != "standard") & (df["strategy"] != TOPLINE)]
    if df.empty:
        raise ValueError("no ablation runs (protocol != 'standard') to plot")
    df = _with_percent(df)
    protocols = sorted(df["protocol"].unique())
    fig, axes = _new_figure(len(protocols))
    for ax, protocol in zip(axes, protocols, strict=True):
        runs = df[df["protocol"] == protocol]
        _draw_runs(ax, runs, style="experiment" if runs["experiment"].nunique() > 1 else None)
        names = ", ".join(sorted({dataset_name(d) for d in runs["dataset"]}))
        _label_axes(ax, f"{protocol} ({names})", runs["metric"].iloc[0], runs)
    if out is not None:
        save_figure(fig, out)
    return fig


def paper_figure(
    runs: pd.DataFrame,
    datasets: Sequence[str],
    root: str | Path = "results",
    out: str | Path | None = None,
) -> Figure | None:
    """One paper figure (a list of datasets), standard protocol, with the paper's points overlaid.

    A dataset without runs is reported with the command that produces them; its panel still shows
    the paper's points when there are any. Returns None when there is nothing at all to draw.
    """
    runs = runs[runs["protocol"] == "standard"]
    keys = runs["dataset"].map(dataset_key)
    ref = load_reference()
    ref = ref[ref["kind"].isin(_PAPER_KINDS) & ref["mean"].notna()]
    ref_keys = set(ref["dataset"].map(dataset_key))
    shown = []
    for dataset in datasets:
        key = dataset_key(dataset)
        if not (keys == key).any():
            also = " (showing the paper's points only)" if key in ref_keys else ""
            print(
                f"no runs for {dataset_name(dataset)} under {root}: run `make reproduce-{key}`{also}"
            )
        if (keys == key).any() or key in ref_keys:
            shown.append(dataset)
    if not shown:
        return None
    wanted = {dataset_key(d) for d in shown}
    return plot_curves(runs[keys.isin(wanted)], reference=ref, out=out, datasets=shown)
