"""Label efficiency: how many labels each strategy needs to reach a target metric.

Read off the *mean* curve over seeds (`summarize`), interpolated linearly between the two budgets
that bracket the target's first crossing; a target reached at the first budget reads as that budget
(an upper bound), a target never reached as NaN ("not reached"). The ratio to the baseline's labels
says how many labels a strategy saves: 0.8 = 20% fewer than random for the same metric.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .canvas import NoFigure, captioned_figure, legend, new_figure
from .curves import pool_sizes
from .stats import TOPLINE, band, percent_scale, summarize
from .style import (
    experiment_title,
    metric_axis_label,
    seeds_text,
    sort_strategies,
    strategy_color,
    strategy_label,
)

__all__ = ["labels_to_reach", "label_efficiency", "label_efficiency_figure", "default_target"]

NO_EFFICIENCY = "no experiment with {baseline} and another strategy under {root}: run `make demo`"

_COLS = ["experiment", "dataset", "metric", "strategy", "target", "labels", "reached", "note"]


def labels_to_reach(n_labeled: np.ndarray, mean: np.ndarray, target: float) -> tuple[float, str]:
    """Labels at the first crossing of `target` by the mean curve, and a note on how it was read."""
    order = np.argsort(n_labeled)
    x, y = np.asarray(n_labeled, float)[order], np.asarray(mean, float)[order]
    if len(x) == 0:
        return np.nan, "no points"
    if y[0] >= target:
        return float(x[0]), "at or before the first budget"
    for i in range(1, len(x)):
        if y[i] >= target:
            step = (target - y[i - 1]) / (y[i] - y[i - 1])
            return float(x[i - 1] + step * (x[i] - x[i - 1])), "interpolated"
    return np.nan, "not reached"


def default_target(exp: pd.DataFrame, baseline: str = "random") -> float:
    """The baseline's mean metric at its last budget (what random ends at), else NaN."""
    s = summarize(exp[exp["strategy"] == baseline])
    return float(s.sort_values("n_labeled")["mean"].iloc[-1]) if len(s) else np.nan


def label_efficiency(
    df: pd.DataFrame, target: float | None = None, baseline: str = "random"
) -> pd.DataFrame:
    """Labels each strategy needs to reach `target` (metric units; default `default_target` per
    experiment) and `ratio`: those labels over the baseline's (NaN where either is not reached)."""
    rows = []
    for experiment, exp in df[df["strategy"] != TOPLINE].groupby("experiment", sort=True):
        goal = default_target(exp, baseline) if target is None else target
        s = summarize(exp)
        for strategy, curve in s.groupby("strategy", sort=True):
            labels, note = labels_to_reach(curve["n_labeled"], curve["mean"], goal)
            rows.append(
                dict(
                    experiment=experiment,
                    dataset=curve["dataset"].iloc[0],
                    metric=curve["metric"].iloc[0],
                    strategy=strategy,
                    target=goal,
                    labels=labels,
                    reached=bool(np.isfinite(labels)),
                    note=note,
                )
            )
    out = pd.DataFrame(rows, columns=_COLS)
    base = out[out["strategy"] == baseline].set_index("experiment")["labels"]
    out["ratio"] = out["labels"] / out["experiment"].map(base)
    return out


def _seed_band(runs: pd.DataFrame, targets: np.ndarray) -> pd.DataFrame:
    """Per target: the band (stats.band) of the labels each seed's own curve needs, over the
    seeds that reach it."""
    rows = []
    for t in targets:
        per_seed = [
            labels_to_reach(seed["n_labeled"].to_numpy(), seed["value"].to_numpy(), t)[0]
            for _, seed in runs.groupby("seed")
        ]
        reached = [v for v in per_seed if np.isfinite(v)]
        _, lo, hi, _ = band(reached)
        rows.append(dict(target=t, lo=lo, hi=hi, n=len(reached)))
    return pd.DataFrame(rows).dropna(subset=["lo"])


def label_efficiency_figure(
    df: pd.DataFrame,
    baseline: str = "random",
    n_targets: int = 8,
    root: str | Path = "results",
    out: str | Path | None = None,
):
    """Labels needed vs target metric, one panel per experiment, a line per strategy.

    Targets span the baseline's mean curve from its first to its last budget; returns `Captioned`.
    Raises NoFigure when no experiment has the baseline and another strategy.
    """
    curves = df[df["strategy"] != TOPLINE]
    experiments = sorted(
        e
        for e, exp in curves.groupby("experiment")
        if (exp["strategy"] == baseline).any() and exp["strategy"].nunique() > 1
    )
    if not experiments:
        raise NoFigure(NO_EFFICIENCY.format(baseline=baseline, root=root))
    fig, axes = new_figure(len(experiments))
    missing: list[str] = []
    for ax, experiment in zip(axes, experiments, strict=True):
        counts: list[int] = []
        exp = curves[curves["experiment"] == experiment]
        scale = percent_scale(exp["value"])
        base = summarize(exp[exp["strategy"] == baseline]).sort_values("n_labeled")["mean"]
        targets = np.linspace(base.iloc[0], base.iloc[-1], n_targets)
        table = pd.concat([label_efficiency(exp, t, baseline) for t in targets])
        for strategy in sort_strategies(exp["strategy"]):
            mine = table[table["strategy"] == strategy]
            color = strategy_color(strategy)
            ax.plot(
                mine["target"] * scale,
                mine["labels"],
                marker="o",
                ms=3,
                color=color,
                label=strategy_label(strategy),
            )
            spread = _seed_band(exp[exp["strategy"] == strategy], targets)
            ax.fill_between(
                spread["target"] * scale, spread["lo"], spread["hi"], color=color, alpha=0.15, lw=0
            )
            counts += spread["n"].tolist()
        name = str(exp["metric"].iloc[0])
        metric = metric_axis_label(name, scale == 100 or "percent" in name)
        pool, _ = pool_sizes(exp)
        of = f" of the {pool:,}-image pool" if pool else ""
        seeds = int(exp.groupby("strategy")["seed"].nunique().min())
        ax.set(
            title=f"{experiment_title(curves, experiment)} ({seeds_text(seeds)})",
            xlabel=f"Target: {metric}",
            ylabel=f"Labels needed (images{of})",
        )
        ax.grid(alpha=0.3)
        legend(ax, counts)
    body = [
        "Labels each strategy needs to reach a target metric, read off its mean curve over seeds",
        "by linear interpolation between the budgets that bracket the target; targets span",
        f"{baseline}'s mean curve. Shaded: the same reading off each seed's own curve (seeds that",
        "reached the target), as the legend says. A missing point: the mean curve never reached",
        "that target.",
    ]
    return captioned_figure(fig, "Label efficiency", body, missing, out)
