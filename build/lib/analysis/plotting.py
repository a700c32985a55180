"""Figures in the paper's style: accuracy vs labeled %, one fixed colour and legend name per method.

Bands follow one rule (`stats.band`): ±1 std over seeds below 3 seeds, a 95% t-interval from 3, and
every legend says which. The paper's figures come back as `Captioned` (figure + caption listing the
runs still missing), so a half-finished reproduction is drawn and says what it lacks.

Figures are built on `matplotlib.figure.Figure` with the Agg canvas, never through pyplot, so they
work headless, leak no global state, and are returned for the caller (or a notebook) to show.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from .expected import (
    ABLATION_FAMILIES,
    PAPER_FIGURES,
    PAPER_SEEDS,
    PaperFigureSpec,
    missing_runs,
    reproduce_command,
    timed_strategies,
)
from .queries import class_bias, class_shares
from .reference import REFERENCE_COLUMNS, dataset_key, load_reference
from .runs import QS_PREFIX
from .runs import ablation_kind as _kind_of
from .specs import dataset_command, shipped_specs
from .stats import TOPLINE, band, band_label, percent_scale
from .timing import sampling_time_table

__all__ = [
    "Captioned",
    "STRATEGY_LABELS",
    "STRATEGY_COLORS",
    "strategy_label",
    "strategy_color",
    "dataset_name",
    "save_figure",
    "plot_curves",
    "plot_sampling_time",
    "paper_figure",
    "ablation_figure",
    "sampling_time_figure",
    "plot_vaal_diagnostics",
    "plot_query_classes",
    "unhealthy_count",
]

STRATEGY_LABELS = {
    "vaal": "VAAL (ours)",
    "random": "Random",
    "coreset": "Core-set",
    "ensemble_varr": "Ensembles w. VarR",
    "mc_dropout": "MC-Dropout",
    "dbal": "DBAL",
    "qbc": "QBC",
    "suggestive_annotation": "Suggestive annotation",
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
    "suggestive_annotation": "#17becf",
    TOPLINE: "#000000",
}
_ORDER = list(STRATEGY_LABELS)
_SPARE = ["#bcbd22", "#7f7f7f", "#aec7e8", "#98df8a", "#ffbb78"]
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


@dataclass
class Captioned:
    """A figure and the caption that says what it shows, what its bands are, and what is missing.

    In a notebook it displays as the figure followed by the caption.
    """

    figure: Figure
    caption: str
    missing: list[str] = field(default_factory=list)

    def save(self, out: str | Path) -> list[Path]:
        """`<out>.png`, `<out>.pdf` and the caption as `<out>.txt`."""
        paths = save_figure(self.figure, out)
        text = paths[0].with_suffix(".txt")
        text.write_text(self.caption + "\n")
        return paths + [text]

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.figure)
        print(self.caption)


def captioned_figure(
    fig: Figure, title: str, body: Sequence[str], missing: list[str], out: str | Path | None
) -> Captioned:
    """The figure with its caption, saved (png, pdf, txt) when `out` is given."""
    captioned = Captioned(fig, _caption(title, body, missing), missing)
    if out is not None:
        captioned.save(out)
    return captioned


def _caption(title: str, body: Sequence[str], missing: Sequence[str]) -> str:
    lines = [title + ". " + " ".join(b for b in body if b)]
    if missing:
        lines += ["Missing:"] + [f"- {m}" for m in missing]
    else:
        lines.append("Missing: nothing expected is missing.")
    return "\n".join(lines)


# --- bands ---------------------------------------------------------------------------------------
def _points(data: pd.DataFrame, x: str, y: str) -> pd.DataFrame:
    """Mean and band (stats.band: ±1 std below 3 seeds, 95% t-interval from 3) per x."""
    rows = []
    for xv, at in data.groupby(data[x].round(6), sort=True):
        mean, lo, hi, _ = band(at[y])
        rows.append(dict(x=xv, mean=mean, lo=lo, hi=hi, n=int(at[y].notna().sum())))
    return pd.DataFrame(rows, columns=["x", "mean", "lo", "hi", "n"])


def _band_line(
    ax: Axes,
    data: pd.DataFrame,
    x: str,
    y: str,
    label: str,
    color: str,
    linestyle: str = "-",
    marker: str = "o",
) -> list[int]:
    """A mean line over seeds with its band shaded; returns the seed count of every point."""
    pts = _points(data, x, y)
    if pts.empty:
        return []
    ax.plot(
        pts["x"], pts["mean"], linestyle=linestyle, marker=marker, ms=4, color=color, label=label
    )
    ax.fill_between(pts["x"], pts["lo"], pts["hi"], color=color, alpha=0.15, linewidth=0)
    return pts["n"].tolist()


def _legend(ax: Axes, counts: Sequence[int], **kw) -> None:
    """Legend whose last entry names what the shaded bands are (and over how many seeds)."""
    handles, labels = ax.get_legend_handles_labels()
    if counts:
        handles.append(Patch(color="grey", alpha=0.3))
        labels.append(band_label(list(counts)))
    if handles:
        ax.legend(handles, labels, fontsize="small", **kw)


def _label_axes_plain(ax: Axes, title: str, xlabel: str, ylabel: str) -> None:
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.grid(alpha=0.3)
    _legend(ax, [])


UNHEALTHY_LABEL = "task model did not fit its labeled set"
_FIRST_RUNS = "run `make demo`"  # what makes a first set of runs (Makefile `demo`)


def unhealthy_count(runs: pd.DataFrame) -> int:
    """Records whose task model did not fit (`fit_ok` False); <NA> (old records) is unknown."""
    if "fit_ok" not in runs:
        return 0
    return int(runs["fit_ok"].astype("boolean").eq(False).fillna(False).sum())


def _mark_unhealthy(ax: Axes, runs: pd.DataFrame) -> int:
    """A red x on every run's point whose task model did not fit; returns how many."""
    if not unhealthy_count(runs):
        return 0
    bad = runs[runs["fit_ok"].astype("boolean").eq(False).fillna(False).astype(bool)]
    seen = UNHEALTHY_LABEL in ax.get_legend_handles_labels()[1]
    ax.plot(
        bad["labeled (%)"],
        bad["value (%)"],
        "x",
        color="red",
        ms=9,
        mew=2,
        linestyle="none",
        label="_nolegend_" if seen else UNHEALTHY_LABEL,
        zorder=5,
    )
    return len(bad)


def _empty_panel(ax: Axes, text: str, y: float = 0.5) -> None:
    ax.text(0.5, y, text, transform=ax.transAxes, ha="center", va="center", wrap=True)


# --- learning curves -----------------------------------------------------------------------------
def _with_percent(df: pd.DataFrame) -> pd.DataFrame:
    """Add x/y columns in percent and the legend label used by every curve plot."""
    df = df.copy()
    df["labeled (%)"] = df["fraction"] * 100
    df["value (%)"] = df["value"]
    for _, idx in df.groupby("metric").groups.items():
        df.loc[idx, "value (%)"] = df.loc[idx, "value"] * percent_scale(df.loc[idx, "value"])
    df["method"] = df["strategy"].map(strategy_label)
    return df


def _draw_runs(
    ax: Axes, runs: pd.DataFrame, linestyle: str = "-", suffix: str = "", top: bool = True
) -> list[int]:
    """Mean curve with its band per strategy, plus the top-line if present; returns seed counts."""
    counts: list[int] = []
    curves = runs[runs["strategy"] != TOPLINE]
    for strategy in _sort_strategies(curves["strategy"]):
        mine = curves[curves["strategy"] == strategy]
        counts += _band_line(
            ax,
            mine,
            "labeled (%)",
            "value (%)",
            strategy_label(strategy) + suffix,
            strategy_color(strategy),
            linestyle,
        )
        _mark_unhealthy(ax, mine)
    full = runs[runs["strategy"] == TOPLINE]
    if top and len(full):
        ax.axhline(
            full["value (%)"].mean(),
            color=strategy_color(TOPLINE),
            linestyle="--",
            label=strategy_label(TOPLINE),
        )
    return counts


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


def _seed_text(runs: pd.DataFrame) -> str:
    seeds = runs.groupby("strategy")["seed"].nunique()
    n = str(seeds.iloc[0]) if seeds.nunique() == 1 else f"{seeds.min()}-{seeds.max()}"
    return f"{n} seed{'s' if n != '1' else ''}"


def _label_axes(
    ax: Axes, title: str, metric: str, runs: pd.DataFrame | None, counts: Sequence[int]
) -> None:
    """Titles, labels and legend; the legend names the band and the title the seed count."""
    curves = runs[runs["strategy"] != TOPLINE] if runs is not None else None
    if curves is not None and len(curves):
        title += f" ({_seed_text(curves)})"
        low, high = ax.get_ylim()  # bands of few seeds can leave the metric's range
        if curves["value (%)"].between(0, 100).all():
            ax.set_ylim(max(low, 0), min(high, 100))
    ax.set_title(title)
    ax.set_xlabel("Labeled data (%)")
    ax.set_ylabel(f"{_METRIC_NAMES.get(metric.lower(), metric)} (%)")
    ax.grid(alpha=0.3)
    _legend(ax, counts)


def plot_curves(
    df: pd.DataFrame,
    reference: pd.DataFrame | None = None,
    out: str | Path | None = None,
    datasets: Sequence[str] | None = None,
    metric: str = "",
) -> Figure:
    """Metric (%) vs labeled data (%) with bands over seeds, one panel per dataset/experiment.

    `reference` (from load_reference) is overlaid on the panel of its dataset; `datasets` fixes the
    panels and their order, and lets a dataset without runs get a panel (saying so, its y axis
    named by `metric`).
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
    fig, axes = _new_figure(max(1, len(panels)))
    for ax, (key, experiment) in zip(axes, panels, strict=False):
        runs = df[df["experiment"] == experiment]
        counts = _draw_runs(ax, pd.concat([runs, top[top["dataset"].map(dataset_key) == key]]))
        panel_ref = ref[ref_keys == key]
        _draw_reference(ax, panel_ref)
        if runs.empty:
            paper = " (paper's points only)" if len(panel_ref) else ""
            how = dataset_command(key)
            _empty_panel(ax, f"no runs yet{paper}\n`{how}`", 0.9 if paper else 0.5)
        name = DATASET_NAMES.get(key, runs["dataset"].iloc[0] if len(runs) else key)
        several = sum(k == key for k, _ in panels) > 1
        source = runs if len(runs) else panel_ref
        panel_metric = str(source["metric"].iloc[0]) if len(source) else metric
        _label_axes(ax, f"{name} ({experiment})" if several else name, panel_metric, runs, counts)
    if out is not None:
        save_figure(fig, out)
    return fig


def _not_ablation(runs: pd.DataFrame) -> pd.DataFrame:
    """Runs of the main experiments (any training protocol), ablation experiments left out."""
    return runs[runs["ablation"].isna()] if "ablation" in runs else runs


def paper_figure(
    runs: pd.DataFrame,
    figure: str | Sequence[str],
    root: str | Path = "results",
    out: str | Path | None = None,
) -> Captioned:
    """One of the paper's curve figures ('classification', 'segmentation', or a list of datasets)
    from whatever runs exist, the paper's points overlaid, with a caption naming missing runs."""
    if isinstance(figure, str):
        if figure not in PAPER_FIGURES:
            raise ValueError(
                f"unknown paper figure {figure!r}; choose one of {sorted(PAPER_FIGURES)} "
                "or pass a list of dataset names"
            )
        spec = PAPER_FIGURES[figure]
    else:
        spec = PaperFigureSpec.adhoc(list(figure))
    runs = _not_ablation(runs)
    wanted = {dataset_key(d) for d in spec.datasets}
    runs = runs[runs["dataset"].map(dataset_key).isin(wanted)]
    ref = load_reference()
    ref = ref[ref["kind"].isin(_PAPER_KINDS) & ref["mean"].notna()]
    fig = plot_curves(runs, reference=ref, datasets=list(spec.datasets), metric=spec.metric)
    missing = missing_runs(runs, spec.datasets, spec.expected(), spec.seeds, root, DATASET_NAMES)
    shown = ref[ref["dataset"].map(dataset_key).isin(wanted)]
    paper = (
        "Dashed/starred: the paper's numbers ("
        + "; ".join(sorted(set(shown["dataset"] + ": " + shown["verification_status"])))
        + ")."
        if len(shown)
        else "The paper's numbers for these datasets are not in analysis/reference_data."
    )
    bad = unhealthy_count(runs)
    body = [
        "Solid lines: mean over seeds of this suite's runs, shaded band as the legend says.",
        paper,
        f"Red x: {bad} run point{'s' if bad != 1 else ''} where the {UNHEALTHY_LABEL} (kept, not "
        "dropped; they measure training, not selection)."
        if bad
        else "No point flagged unhealthy (records without training health count as unknown).",
    ]
    return captioned_figure(fig, spec.title, body, missing, out)


# --- ablations -----------------------------------------------------------------------------------
_VARIANT_COLORS = ["#9467bd", "#ff7f0e", "#2ca02c", "#8c564b", "#17becf", "#bcbd22"]
_VARIANT_NAMES = {
    "noadv": "VAAL, adversary off (adversary_param 0)",
    "fixedvae": "VAAL, fixed VAE",
    "klmean": "VAAL, KL averaged (mean)",
}


def _noise_rate(runs: pd.DataFrame) -> str:
    """Measured share of oracle labels flipped over the queries of these runs."""
    if "label_noise_flipped" not in runs:
        return ""
    flipped = runs["label_noise_flipped"].map(lambda x: len(x) if isinstance(x, list) else 0)
    asked = pd.to_numeric(runs["n_selected"], errors="coerce").fillna(0)
    if runs["label_noise_flipped"].map(lambda x: isinstance(x, list)).any() and asked.sum():
        return f"{100 * flipped.sum() / asked.sum():.1f}% of queried labels flipped"
    return ""


def ablation_figure(
    runs: pd.DataFrame,
    family: str,
    root: str | Path = "results",
    out: str | Path | None = None,
) -> Captioned:
    """One ablation family (`noise`, `budget`, `biased`, `vaal`) against the same dataset's runs
    without ablation (dashed), with a caption naming the variants and strategies still missing.

    Ablations are experiments named `ablation_<kind>_<dataset>` (see `load_runs`' `ablation`).
    """
    if family not in ABLATION_FAMILIES:
        raise ValueError(
            f"unknown ablation family {family!r}; choose one of {sorted(ABLATION_FAMILIES)}"
        )
    fam = ABLATION_FAMILIES[family]
    runs = _with_percent(runs[runs["strategy"] != TOPLINE])
    abl = (
        runs[runs["ablation"].map(fam.matches).astype(bool)]
        if "ablation" in runs
        else runs.iloc[:0]
    )
    base = _not_ablation(runs)
    if fam.per_variant:
        panels = [(d, None) for d in sorted(abl["dataset"].unique())]
    else:
        panels = sorted(abl[["dataset", "ablation"]].drop_duplicates().itertuples(index=False))
        panels = [(d, k) for d, k in panels]
    fig, axes = _new_figure(max(1, len(panels)))
    notes, missing = [], []
    for ax, (dataset, kind) in zip(axes, panels, strict=False):
        mine = abl[abl["dataset"] == dataset]
        if kind is not None:
            mine = mine[mine["ablation"] == kind]
        ref = base[base["dataset"] == dataset]
        ref = (
            ref[ref["protocol"].isin(mine["protocol"])]
            if ref["protocol"].isin(mine["protocol"]).any()
            else ref
        )
        counts: list[int] = []
        if fam.per_variant:
            for i, variant in enumerate(sorted(mine["ablation"].unique())):
                counts += _band_line(
                    ax,
                    mine[(mine["ablation"] == variant) & (mine["strategy"] == "vaal")],
                    "labeled (%)",
                    "value (%)",
                    _VARIANT_NAMES.get(variant, variant),
                    _VARIANT_COLORS[i % len(_VARIANT_COLORS)],
                )
            ref = ref[ref["strategy"].isin(["vaal", "random"])]
        else:
            counts += _draw_runs(ax, mine)
            ref = ref[ref["strategy"].isin(mine["strategy"])]
            rate = _noise_rate(mine)
            if rate:
                notes.append(f"{kind} on {dataset_name(dataset)}: {rate}.")
        counts += _draw_runs(ax, ref, linestyle="--", suffix=" (no ablation)")
        if ref.empty:
            missing.append(f"{dataset_name(dataset)}: no runs without ablation to compare with")
        what = kind if kind is not None else fam.title.split(" (")[0]
        metric = str(mine["metric"].iloc[0]) if len(mine) else ""
        _label_axes(ax, f"{what}: {dataset_name(dataset)}", metric, mine, counts)
    if not panels:
        _empty_panel(axes[0], f"no {fam.title.lower()} runs yet")
        axes[0].set_title(fam.title)
    # variants to run: on the datasets ablated so far, with a shipped spec of this family, or with
    # main runs
    shipped = {s.dataset for s in shipped_specs() if fam.matches(_kind_of(s.experiment, s.dataset))}
    datasets = sorted(set(abl["dataset"]) | shipped | set(base["dataset"])) or ["<dataset>"]
    for kind in fam.kinds:
        for dataset in datasets:
            got = abl[(abl["ablation"] == kind) & (abl["dataset"] == dataset)]
            exp = f"ablation_{kind}_{dataset_key(dataset) if dataset != '<dataset>' else dataset}"
            if got.empty:
                how = reproduce_command(exp)
                missing.append(f"{exp}: not run ({f'`{how}`' if how.startswith('make ') else how})")
                continue
            for strategy in fam.strategies:
                n = got.loc[got["complete"] & (got["strategy"] == strategy), "seed"].nunique()
                if n < PAPER_SEEDS:
                    missing.append(f"{exp}: {strategy} has {n}/{PAPER_SEEDS} complete seeds")
    body = [
        "Solid: ablation runs; dashed: the same dataset without ablation;",
        "shaded band as the legend says.",
        " ".join(notes),
        "The paper's ablation numbers are not in analysis/reference_data.",
    ]
    return captioned_figure(fig, f"Ablation: {fam.title}", body, missing, out)


# --- sampling time ---------------------------------------------------------------------------------
def plot_sampling_time(df: pd.DataFrame, out: str | Path | None = None) -> Figure:
    """Seconds of the first query (same unlabeled pool for all) per strategy, one panel per
    experiment; the bar is the mean over seeds and the error bar the band named in the title."""
    table = sampling_time_table(df)
    experiments = sorted(table["experiment"].unique())
    fig, axes = _new_figure(
        max(1, len(experiments)), width=max(4.0, 1.2 * df["strategy"].nunique() + 2)
    )
    for ax, experiment in zip(axes, experiments, strict=False):
        rows = table[table["experiment"] == experiment].set_index("strategy")
        order = _sort_strategies(rows.index)
        rows = rows.loc[order]
        x = np.arange(len(order))
        err = np.vstack([rows["seconds"] - rows["band_lo"], rows["band_hi"] - rows["seconds"]])
        ax.bar(x, rows["seconds"], color=[strategy_color(s) for s in order], yerr=err, capsize=4)
        ax.set_xticks(x, [f"{strategy_label(s)}\n{rows.loc[s, 'seconds']:.3g} s" for s in order])
        ax.tick_params(axis="x", labelrotation=30)
        ax.set_title(
            f"{experiment}: first query, {int(rows['unlabeled'].iloc[0])} unlabeled\n"
            f"{band_label(rows['n_seeds'].tolist())}; {'; '.join(sorted(set(rows['hardware'])))}",
            fontsize="small",
        )
        ax.set_ylabel("Seconds per selection")
    if not experiments:
        _empty_panel(axes[0], "no queries recorded" + ("" if len(df) else f": {_FIRST_RUNS}"))
    if out is not None:
        save_figure(fig, out)
    return fig


def _seconds_cell(row: pd.Series) -> str:
    if row["band_kind"] == "none":
        return f"{row['seconds']:.3g} (1 seed)"
    half = (row["band_hi"] - row["band_lo"]) / 2
    return f"{row['seconds']:.3g} ± {half:.2g}"


def sampling_time_figure(
    runs: pd.DataFrame, root: str | Path = "results", out: str | Path | None = None
) -> Captioned:
    """The paper's sampling-time table from these runs: seconds per selection per strategy at the
    same pool size (each run's first query), naming the hardware, with missing strategies listed."""
    table = sampling_time_table(_not_ablation(runs))
    fig = Figure(figsize=(8, 0.6 + 0.3 * (len(table) + 1)), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    ax.axis("off")
    missing = []
    if table.empty:
        _empty_panel(ax, f"no queries recorded under {root}: run `make demo`")
        missing.append(f"no queries recorded under {root}")
    else:
        cells = [
            [
                r.experiment,
                strategy_label(r.strategy),
                f"{r.unlabeled}",
                f"{r.n_selected}",
                _seconds_cell(pd.Series(r._asdict())),
                "" if np.isnan(r.extra_train_s) else f"{r.extra_train_s:.3g}",
                str(r.n_seeds),
                r.hardware,
            ]
            for r in table.itertuples()
        ]
        head = ["experiment", "method", "unlabeled", "queried", "seconds", "of which training"]
        tab = ax.table(cellText=cells, colLabels=head + ["seeds", "hardware"], loc="center")
        tab.auto_set_font_size(False)
        tab.set_fontsize(8)
        tab.auto_set_column_width(list(range(len(head) + 2)))
        for exp, rows in table.groupby("experiment"):
            absent = [s for s in timed_strategies(exp) if s not in set(rows["strategy"])]
            if absent:
                missing.append(f"{exp}: {', '.join(absent)} not run")
            if rows["hardware"].nunique() > 1 or rows["hardware"].str.contains(";").any():
                missing.append(f"{exp}: strategies ran on different hardware; times do not compare")
    hardware = "; ".join(sorted(set(table["hardware"]))) or "n/a"
    body = [
        "Seconds per selection of each run's first query (cycle 0: the same unlabeled pool for",
        f"every strategy), mean over seeds ± half the band ({band_label(table['n_seeds'].tolist())}).",
        f"Hardware: {hardware}; devices: {'; '.join(sorted(set(table['device']))) or 'n/a'}.",
        "The paper's sampling times are not in analysis/reference_data.",
    ]
    return captioned_figure(fig, "Sampling time", body, missing, out)


# --- VAAL diagnostics and class balance -----------------------------------------------------------
def _message_figure(title: str, text: str, out: str | Path | None) -> Figure:
    """A one-panel figure that says why there is nothing to draw (a notebook never crashes)."""
    fig, (ax,) = _new_figure(1, width=7.0, height=2.0)
    ax.axis("off")
    ax.set_title(title)
    _empty_panel(ax, text)
    if out is not None:
        save_figure(fig, out)
    return fig


def _qs(df: pd.DataFrame, key: str) -> pd.Series:
    col = QS_PREFIX + key
    return pd.to_numeric(df[col], errors="coerce") if col in df else pd.Series(np.nan, df.index)


def plot_vaal_diagnostics(df: pd.DataFrame, out: str | Path | None = None) -> Figure:
    """Discriminator ROC-AUC (chance band shaded), active latent units and mean P(labeled) per
    cycle, one line per experiment/protocol, seeds aggregated by the band rule.

    An AUC inside the hatched band means the discriminator could not tell labeled from unlabeled
    images (Hanley & McNeil 1982), so VAAL's query was random; few active units (Burda et al.,
    ICLR 2016) mean a collapsed posterior. Without diagnostics in the records the figure says so.
    """
    v = df[(df["strategy"] == "vaal")].copy()
    v["auc"], v["auc_band"] = _qs(v, "disc_auc"), _qs(v, "disc_auc_band")
    v["units"], v["latent"] = _qs(v, "active_units"), _qs(v, "latent_dim")
    v = v[v["auc"].notna() | v["units"].notna()]
    if df.empty:
        return _message_figure("VAAL diagnostics", f"no runs yet: {_FIRST_RUNS}", out)
    if v.empty:
        return _message_figure(
            "VAAL diagnostics",
            "no VAAL diagnostics (query_stats.disc_auc / active_units) in these records:\n"
            "run VAAL with a vaal_core that records them",
            out,
        )
    probs = ["p_labeled_labeled", "p_labeled_unlabeled", "p_labeled_selected"]
    for p in probs:
        v[p] = _qs(v, p)
    has_p = v[probs].notna().any().any()
    fig, axes = _new_figure(3 if has_p else 2, width=5.0, height=3.8)
    v["line"] = [
        e if p == "standard" else f"{e} [{p}]"
        for e, p in zip(v["experiment"], v["protocol"], strict=True)
    ]
    lines = sorted(v["line"].unique())
    colors = {line: _SPARE_LINES[i % len(_SPARE_LINES)] for i, line in enumerate(lines)}
    ax_auc, ax_units = axes[0], axes[1]
    chance = v.groupby("cycle")["auc_band"].max().dropna()
    if len(chance):
        widest = " (widest over lines)" if len(lines) > 1 else ""
        ax_auc.fill_between(
            chance.index,
            0.5 - chance.to_numpy(),
            0.5 + chance.to_numpy(),
            facecolor="none",
            edgecolor="grey",
            hatch="//",
            linewidth=0,
            label=f"chance: 0.5 ± 95% band{widest}",
        )
    ax_auc.axhline(0.5, color="grey", linewidth=0.8)
    counts_auc, counts_units, counts_p = [], [], []
    for line in lines:
        mine = v[v["line"] == line]
        counts_auc += _band_line(ax_auc, mine, "cycle", "auc", line, colors[line])
        counts_units += _band_line(ax_units, mine, "cycle", "units", line, colors[line])
        latent = mine["latent"].dropna()
        if len(latent):
            ax_units.axhline(latent.max(), color=colors[line], linestyle=":", linewidth=1)
        if has_p:
            for p, style in zip(probs, ["-", "--", ":"], strict=True):
                name = p.removeprefix("p_labeled_")
                counts_p += _band_line(
                    axes[2], mine, "cycle", p, f"{line}: {name}", colors[line], style, "."
                )
    ax_auc.set(
        title="Discriminator ROC-AUC, labeled vs unlabeled (held out)",
        xlabel="Cycle",
        ylabel="ROC-AUC",
    )
    ax_units.set(
        title="Active latent units (Var_x(mu) > 0.01); dotted: latent size",
        xlabel="Cycle",
        ylabel="Units",
    )
    _legend(ax_auc, counts_auc)
    _legend(ax_units, counts_units)
    if has_p:
        axes[2].set(title="Mean P(labeled)", xlabel="Cycle", ylabel="P(labeled)")
        _legend(axes[2], counts_p)
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.xaxis.get_major_locator().set_params(integer=True)
    if out is not None:
        save_figure(fig, out)
    return fig


_SPARE_LINES = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf"]


def plot_query_classes(df: pd.DataFrame, out: str | Path | None = None) -> Figure:
    """True-class shares of the queried images per cycle (rows) and class (columns), one heatmap
    per experiment and strategy, seeds pooled; the title gives the mean total-variation distance
    from random's queries at the same cycles (from uniform where random was not run). Without
    histograms in the records the figure says so."""
    shares = class_shares(df)
    if df.empty:
        return _message_figure("Queried classes", f"no runs yet: {_FIRST_RUNS}", out)
    if shares.empty:
        return _message_figure(
            "Queried classes",
            "no selected_classes in these records: they need a vaal_core that records\n"
            "the class histogram of every query (classification only)",
            out,
        )
    bias = class_bias(shares)
    panels = sorted(
        shares[["experiment", "strategy"]].drop_duplicates().itertuples(index=False),
        key=lambda r: (r.experiment, _rank(r.strategy)),
    )
    fig, axes = _new_figure(len(panels), width=4.5, height=3.2)
    vmax = float(shares["share"].max()) or 1.0
    image = None
    for ax, (experiment, strategy) in zip(axes, panels, strict=True):
        mine = shares[(shares["experiment"] == experiment) & (shares["strategy"] == strategy)]
        grid = mine.pivot_table(index="cycle", columns="class", values="share", fill_value=0.0)
        image = ax.imshow(grid.to_numpy(), aspect="auto", cmap="viridis", vmin=0, vmax=vmax)
        ax.set_yticks(range(len(grid.index)), [str(c) for c in grid.index])
        step = max(1, len(grid.columns) // 10)
        ax.set_xticks(range(0, len(grid.columns), step), [str(c) for c in grid.columns[::step]])
        b = bias[(bias["experiment"] == experiment) & (bias["strategy"] == strategy)]
        seeds = int(mine["n_seeds"].max())
        ax.set_title(
            f"{experiment}: {strategy_label(strategy)} ({seeds} seed{'s' if seeds != 1 else ''})\n"
            f"TV from {b['against'].iloc[0]}: {b['tv'].mean():.3f}",
            fontsize="small",
        )
        ax.set_xlabel("True class")
        ax.set_ylabel("Cycle")
    fig.colorbar(image, ax=axes, label="Share of queried images", shrink=0.8)
    if out is not None:
        save_figure(fig, out)
    return fig
