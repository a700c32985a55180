"""Points above the top-line: a strategy's mean that beats the full-pool run of its experiment.

A top-line an active learner beats says the full-pool recipe is short, not that the learner beat
all the data: every "x% of the top-line" figure inherits the error. The report warns for each such
point (`topline_warnings`), naming the likely cause read from the top-line run's own spec.yaml
(`task.topline`, vaal_core/train/topline.py); the curve figure marks the point (analysis/curves.py).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from vaal_core.words import count

from .stats import TOPLINE, percent_scale
from .style import strategy_label

__all__ = ["topline_breaches", "topline_warnings", "ABOVE_TOPLINE_LABEL"]

ABOVE_TOPLINE_LABEL = "above the top-line (see report)"


def topline_breaches(df: pd.DataFrame) -> pd.DataFrame:
    """One row per (experiment, strategy, labeled count) whose mean over seeds lies above the mean
    of the experiment's top-line runs; empty when nothing does or no top-line ran."""
    rows = []
    for experiment, exp in df.groupby("experiment", sort=True):
        top = exp[exp["strategy"] == TOPLINE]
        if top.empty:
            continue
        top_mean, top_std = float(top["value"].mean()), float(top["value"].std(ddof=1))
        curves = exp[exp["strategy"] != TOPLINE]
        means = curves.groupby(["strategy", "n_labeled"], sort=True)["value"].agg(
            ["mean", "std", "count"]
        )
        for (strategy, n_labeled), r in means.iterrows():
            if r["mean"] > top_mean:
                rows.append(
                    dict(
                        experiment=experiment,
                        strategy=strategy,
                        n_labeled=int(n_labeled),
                        mean=float(r["mean"]),
                        std=float(r["std"]),
                        n_seeds=int(r["count"]),
                        top_mean=top_mean,
                        top_std=top_std,
                        top_seeds=int(top["seed"].nunique()),
                        top_labeled=int(top["n_labeled"].max()),
                        largest=int(curves["n_labeled"].max()),
                        top_run=str(top["run_dir"].iloc[0]),
                    )
                )
    return pd.DataFrame(rows)


def _task(run_dir: str) -> dict:
    try:
        return yaml.safe_load((Path(run_dir) / "spec.yaml").read_text()).get("task") or {}
    except (OSError, yaml.YAMLError, AttributeError):
        return {}


def _steps(task: dict, n: int) -> int | None:
    """Optimiser steps a labeled set of n trains for (None: epochs of the training set, whose
    size the records do not hold)."""
    batch = int(task.get("batch_size", 128))
    if task.get("iterations"):
        return int(task["iterations"])
    if task.get("epoch_basis", "labeled") == "train_set":
        return None
    return max(1, -(-n // batch)) * int(task.get("epochs", 10))


def likely_cause(row: pd.Series) -> str:
    """The top-line's training length against the largest labeled set's, from its spec.yaml."""
    task = _task(row["top_run"])
    rule = task.get("topline", "same")
    batch = int(task.get("batch_size", 128))
    n, big = row["top_labeled"], row["largest"]
    steps_big = _steps(task, big)
    if rule == "same" and steps_big is not None and task.get("iterations"):
        full = steps_big * batch / n
        each = steps_big * batch / big
        return (
            f"the top-line trains the same {steps_big:,} fixed steps as every labeled set: "
            f"{full:.1f} passes over its {n:,} images against {each:.1f} over the {big:,} labels "
            "of the last cycle; set `task.topline: passes`"
        )
    if rule == "same" and steps_big is None:
        return (
            "the top-line trains the same epochs of the training set as every cycle, fewer passes "
            "over the whole pool than the labeled sets get over themselves; set "
            "`task.topline: passes`"
        )
    spread = np.nanmax([row["std"], row["top_std"], 0.0])
    if row["mean"] - row["top_mean"] <= spread:
        return (
            "within the seeds' spread (the gap is no larger than one std of the point or the "
            "top-line): more seeds would tell"
        )
    return (
        f"the top-line already gets the labeled sets' passes (`task.topline: {rule}`): check its "
        "training health (train_fit) and whether the recipe overfits or underfits the whole pool"
    )


def topline_warnings(df: pd.DataFrame) -> list[str]:
    """One line per point above its experiment's top-line, naming the point and the likely cause."""
    b = topline_breaches(df)
    out = []
    for _, r in b.iterrows():
        scale = percent_scale(df.loc[df["experiment"] == r["experiment"], "value"])
        unit = "%" if scale == 100 else ""
        cause = likely_cause(r)
        out.append(
            f"{r['experiment']}: {strategy_label(r['strategy'])} at {r['n_labeled']:,} labels "
            f"({count(r['n_seeds'], 'seed')}) is "
            f"{r['mean'] * scale:.2f}{unit}, above the top-line's {r['top_mean'] * scale:.2f}{unit} "
            f"(all {r['top_labeled']:,} images, {count(r['top_seeds'], 'seed')}); "
            f"likely cause: {cause}"
        )
    return out


def topline_recipe(exp: pd.DataFrame) -> str | None:
    """The report's line on how the experiment's top-line trained (None: no top-line ran)."""
    top = exp[exp["strategy"] == TOPLINE]
    curves = exp[exp["strategy"] != TOPLINE]
    if top.empty:
        return None
    task = _task(str(top["run_dir"].iloc[0]))
    rule = task.get("topline", "same")
    batch = int(task.get("batch_size", 128))
    n = int(top["n_labeled"].max())
    big = int(curves["n_labeled"].max()) if len(curves) else None
    steps_big = _steps(task, big) if big else None
    if rule == "passes" and steps_big is not None and task.get("iterations"):
        steps = -(-steps_big * n // big)
    else:
        steps = _steps(task, n)
    text = f"Top-line: one run per seed on all {n:,} images, `task.topline: {rule}`"
    if steps is None and rule == "passes":
        return text + " (the largest labeled set's passes over the pool; the records hold no "
        "training-set size to count the steps)."
    if steps is None:
        return text + " (epochs of the training set, as every cycle)."
    text += f": {steps:,} steps of {batch} ({steps * batch / n:.1f} passes over the pool"
    if steps_big is not None and big:
        text += f"; the largest labeled set, {big:,}, gets {steps_big * batch / big:.1f}"
    return text + ")."
