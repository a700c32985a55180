"""One dataset under each training protocol, side by side: does the verdict survive the recipe?

Runs of a spec under another protocol than its file's own live under `<experiment>@<protocol>`
(vaal_core.spec.load_spec), and every record carries its `protocol`; this module groups a
dataset's non-ablation runs by that field. The table gives, per strategy and protocol, the AUBC
(complete runs), the metric at the largest budget, and the AUBC gap to random paired on seed; the
figure draws one panel per protocol (alphabetical) on a shared y axis.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .canvas import NoFigure, save_figure
from .curves import plot_curves
from .reference import dataset_key
from .stats import TOPLINE, aubc, percent_scale
from .style import dataset_name, sort_strategies

__all__ = ["protocol_runs", "protocol_table", "protocol_figure"]

PROTOCOL_ORDER = ["paper", "release", "modern", "standard"]
PROTOCOL_HOW = (
    "run one spec under two protocols, e.g. `python -m vaal_core demo experiments/mnist.yaml "
    "--protocol paper` beside `make demo`"
)


def _base_experiment(name: str) -> str:
    return str(name).split("@", 1)[0]


def protocol_runs(df: pd.DataFrame, dataset: str, experiment: str | None = None) -> pd.DataFrame:
    """The dataset's non-ablation records (of one base experiment, if named), any protocol."""
    if df.empty:
        return df
    runs = df[df["dataset"].map(dataset_key) == dataset_key(dataset)]
    if "ablation" in runs:
        runs = runs[runs["ablation"].isna()]
    if experiment is not None:
        runs = runs[runs["experiment"].map(_base_experiment) == _base_experiment(experiment)]
    return runs


def _protocols(runs: pd.DataFrame) -> list[str]:
    names = set(runs["protocol"])
    rank = {p: i for i, p in enumerate(PROTOCOL_ORDER)}
    return sorted(names, key=lambda p: (rank.get(p, len(rank)), p))


def _cell(values: pd.Series | np.ndarray, scale: float, signed: bool = False) -> str:
    v = np.asarray(values, dtype=float) * scale
    v = v[~np.isnan(v)]
    if len(v) == 0:
        return "—"
    fmt = "+.2f" if signed else ".2f"
    if len(v) == 1:
        return f"{v[0]:{fmt}} (n=1)"
    return f"{v.mean():{fmt}} ± {v.std(ddof=1):.2f}"


def protocol_table(
    df: pd.DataFrame, dataset: str, experiment: str | None = None, baseline: str = "random"
) -> pd.DataFrame:
    """Per strategy and protocol: AUBC, final-budget metric and AUBC − baseline (paired on seed),
    each as mean ± std over seeds in percent; '—' where a protocol lacks the runs."""
    cols = ["protocol", "strategy", "seeds", "AUBC (%)", "final (%)", "final labeled"]
    cols += [f"AUBC − {baseline} (pts)"]
    runs = protocol_runs(df, dataset, experiment)
    runs = runs[runs["strategy"] != TOPLINE] if len(runs) else runs
    if runs.empty:
        return pd.DataFrame(columns=cols)
    scale = percent_scale(runs["value"])
    rows = []
    for protocol in _protocols(runs):
        at = runs[runs["protocol"] == protocol]
        per_run = aubc(at)
        per_run = per_run[per_run["complete"].astype(bool)]
        base = per_run[per_run["strategy"] == baseline].groupby("seed")["aubc"].mean()
        for strategy in sort_strategies(at["strategy"]):
            mine = at[at["strategy"] == strategy]
            last = mine[mine["n_labeled"] == mine["n_labeled"].max()]
            own = per_run[per_run["strategy"] == strategy].groupby("seed")["aubc"].mean()
            gap = (own - base).dropna() if strategy != baseline else pd.Series(dtype=float)
            rows.append(
                {
                    "protocol": protocol,
                    "strategy": strategy,
                    "seeds": int(mine["seed"].nunique()),
                    "AUBC (%)": _cell(own, scale),
                    "final (%)": _cell(last.groupby("seed")["value"].mean(), scale),
                    "final labeled": int(last["n_labeled"].iloc[0]),
                    f"AUBC − {baseline} (pts)": _cell(gap, scale, signed=True),
                }
            )
    return pd.DataFrame(rows, columns=cols)


def protocol_figure(
    df: pd.DataFrame, dataset: str, experiment: str | None = None, out: str | Path | None = None
) -> Figure:
    """Learning curves of the dataset, one panel per protocol, y axes shared.

    Raises NoFigure when the dataset has no runs."""
    runs = protocol_runs(df, dataset, experiment)
    if runs.empty or runs[runs["strategy"] != TOPLINE].empty:
        raise NoFigure(f"{dataset_name(dataset)}: no runs under any protocol: {PROTOCOL_HOW}")
    # one panel per "experiment": the protocol name (panels in alphabetical order)
    panels = runs.assign(experiment=[f"protocol {p}" for p in runs["protocol"]])
    fig = plot_curves(panels, datasets=[dataset])
    low = min(ax.get_ylim()[0] for ax in fig.axes)
    high = max(ax.get_ylim()[1] for ax in fig.axes)
    for ax in fig.axes:
        ax.set_ylim(low, high)
    if out is not None:
        save_figure(fig, out)
    return fig
