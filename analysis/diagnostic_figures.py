"""What the records say of the queries themselves: VAAL's discriminator and latent space per cycle,
and the true classes of the queried images.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .canvas import NoFigure, band_line, legend, new_figure, save_figure
from .queries import class_bias, class_shares
from .runs import QS_PREFIX
from .style import experiment_title, rank, seeds_text, strategy_label

__all__ = ["plot_vaal_diagnostics", "plot_query_classes", "vaal_diagnostics", "NO_DIAGNOSTICS"]

NO_DIAGNOSTICS = "no VAAL diagnostics (disc_auc, active_units) under {root}: run `make demo`"
NO_CLASSES = (
    "no class histograms of queries under {root}: run a classification spec, e.g. `make demo`"
)
# one colour per experiment line; none is a strategy's or a marker's
_LINE_COLORS = ["#3182bd", "#e6550d", "#31a354", "#756bb1", "#636363", "#fd8d3c", "#6baed6"]
_PROBS = ["p_labeled_labeled", "p_labeled_unlabeled", "p_labeled_selected"]


def _qs(df: pd.DataFrame, key: str) -> pd.Series:
    col = QS_PREFIX + key
    return pd.to_numeric(df[col], errors="coerce") if col in df else pd.Series(np.nan, df.index)


def vaal_diagnostics(df: pd.DataFrame) -> pd.DataFrame:
    """VAAL's records that carry discriminator or latent diagnostics, as numeric columns."""
    v = df[df["strategy"] == "vaal"].copy()
    v["auc"], v["auc_band"] = _qs(v, "disc_auc"), _qs(v, "disc_auc_band")
    v["units"], v["latent"] = _qs(v, "active_units"), _qs(v, "latent_dim")
    for p in _PROBS:
        v[p] = _qs(v, p)
    return v[v["auc"].notna() | v["units"].notna()]


def plot_vaal_diagnostics(
    df: pd.DataFrame, out: str | Path | None = None, root: str | Path = "results"
) -> Figure:
    """Discriminator ROC-AUC (chance band hatched), active latent units and mean P(labeled) per
    cycle, one line per experiment/protocol, seeds aggregated by the band rule.

    An AUC inside the hatched band means the discriminator could not tell labeled from unlabeled
    images (Hanley & McNeil 1982), so VAAL's query was random; few active units (Burda et al.,
    ICLR 2016) mean a collapsed posterior. Raises NoFigure without diagnostics in the records.
    """
    v = vaal_diagnostics(df)
    if v.empty:
        raise NoFigure(NO_DIAGNOSTICS.format(root=root))
    v["line"] = [
        experiment_title(df, e) + ("" if p == "standard" else f" [{p}]")
        for e, p in zip(v["experiment"], v["protocol"], strict=True)
    ]
    lines = sorted(v["line"].unique())
    colors = {line: _LINE_COLORS[i % len(_LINE_COLORS)] for i, line in enumerate(lines)}
    panels = [c for c in ("auc", "units") if v[c].notna().any()]
    panels += ["p"] if v[_PROBS].notna().any().any() else []
    fig, axes = new_figure(len(panels), width=5.0, height=3.8)
    ax_of = dict(zip(panels, axes, strict=True))
    counts: dict[str, list[int]] = {p: [] for p in panels}
    if "auc" in ax_of:
        chance = v.groupby("cycle")["auc_band"].max().dropna()
        if len(chance):
            widest = " (widest over lines)" if len(lines) > 1 else ""
            ax_of["auc"].fill_between(
                chance.index,
                0.5 - chance.to_numpy(),
                0.5 + chance.to_numpy(),
                facecolor="none",
                edgecolor="grey",
                hatch="//",
                linewidth=0,
                label=f"chance: 0.5 ± 95% band{widest}",
            )
        ax_of["auc"].axhline(0.5, color="grey", linewidth=0.8)
    for line in lines:
        mine = v[v["line"] == line]
        if "auc" in ax_of:
            counts["auc"] += band_line(
                ax_of["auc"], mine, "cycle", "auc", line, colors[line], bounds=(0, 1)
            )
        if "units" in ax_of:
            ax = ax_of["units"]
            latent = mine["latent"].dropna()
            top = float(latent.max()) if len(latent) else None
            counts["units"] += band_line(
                ax, mine, "cycle", "units", line, colors[line], bounds=(0, top)
            )
            if len(latent):
                ax.axhline(latent.max(), color=colors[line], linestyle=":", linewidth=1)
        if "p" in ax_of:
            for p, style in zip(_PROBS, ["-", "--", ":"], strict=True):
                name = f"{line}: {p.removeprefix('p_labeled_')}"
                counts["p"] += band_line(
                    ax_of["p"], mine, "cycle", p, name, colors[line], style, ".", (0, 1)
                )
    titles = {
        "auc": ("Discriminator ROC-AUC, labeled vs unlabeled (held out)", "ROC-AUC (0-1)"),
        "units": ("Active latent units (Var_x(mu) > 0.01); dotted: latent size", "Units (count)"),
        "p": ("Mean P(labeled) from the discriminator", "P(labeled) (0-1)"),
    }
    for name, ax in ax_of.items():
        title, ylabel = titles[name]
        ax.set(title=title, xlabel="Active-learning cycle (index)", ylabel=ylabel)
        legend(ax, counts[name])
        ax.grid(alpha=0.3)
        ax.xaxis.get_major_locator().set_params(integer=True)
    if out is not None:
        save_figure(fig, out)
    return fig


def plot_query_classes(
    df: pd.DataFrame, out: str | Path | None = None, root: str | Path = "results"
) -> Figure:
    """True-class shares of the queried images per cycle (rows) and class (columns), one heatmap
    per experiment and strategy, seeds pooled; the title gives the mean total-variation distance
    from random's queries at the same cycles (from uniform where random was not run). Raises
    NoFigure without class histograms in the records."""
    shares = class_shares(df)
    if shares.empty:
        raise NoFigure(NO_CLASSES.format(root=root))
    bias = class_bias(shares)
    panels = sorted(
        shares[["experiment", "strategy"]].drop_duplicates().itertuples(index=False),
        key=lambda r: (r.experiment, rank(r.strategy)),
    )
    fig, axes = new_figure(len(panels), width=4.5, height=3.2)
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
            f"{experiment_title(df, experiment)}: {strategy_label(strategy)} "
            f"({seeds_text(seeds)})\n"
            f"TV (total variation distance) from {b['against'].iloc[0]}: {b['tv'].mean():.3f}",
            fontsize="small",
        )
        ax.set_xlabel("True class (index)")
        ax.set_ylabel("Active-learning cycle (index)")
    fig.colorbar(image, ax=axes, label="Share of queried images (fraction)", shrink=0.8)
    if out is not None:
        save_figure(fig, out)
    return fig
