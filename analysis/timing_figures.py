"""The paper's sampling-time comparison from the runs: seconds per selection at the same pool size.

Times only compare on one machine, so every figure names the hardware it was measured on.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .canvas import Captioned, NoFigure, captioned_figure, new_figure, save_figure
from .curves import not_ablation
from .expected import timed_strategies
from .stats import band_label
from .style import experiment_title, seeds_text, sort_strategies, strategy_color, strategy_label
from .timing import sampling_time_table

__all__ = ["plot_sampling_time", "sampling_time_figure", "NO_QUERIES"]

NO_QUERIES = "no query recorded under {root}: run `make demo`"


def plot_sampling_time(
    df: pd.DataFrame, out: str | Path | None = None, root: str | Path = "results"
) -> Figure:
    """Seconds of the first query (same unlabeled pool for all) per strategy, one panel per
    experiment; the bar is the mean over seeds and the error bar the band named in the title."""
    table = sampling_time_table(df)
    if table.empty:
        raise NoFigure(NO_QUERIES.format(root=root))
    experiments = sorted(table["experiment"].unique())
    fig, axes = new_figure(len(experiments), width=max(4.0, 1.2 * df["strategy"].nunique() + 2))
    for ax, experiment in zip(axes, experiments, strict=True):
        rows = table[table["experiment"] == experiment].set_index("strategy")
        order = sort_strategies(rows.index)
        rows = rows.loc[order]
        x = np.arange(len(order))
        err = np.vstack([rows["seconds"] - rows["band_lo"], rows["band_hi"] - rows["seconds"]])
        err = np.nan_to_num(err)  # one seed: no band
        ax.bar(x, rows["seconds"], color=[strategy_color(s) for s in order], yerr=err, capsize=4)
        ax.set_xticks(x, [f"{strategy_label(s)}\n{rows.loc[s, 'seconds']:.3g} s" for s in order])
        ax.tick_params(axis="x", labelrotation=30)
        ax.set_title(
            f"{experiment_title(df, experiment)}: first query, "
            f"{int(rows['unlabeled'].iloc[0]):,} unlabeled images\n"
            f"{band_label(rows['n_seeds'].tolist())}; {'; '.join(sorted(set(rows['hardware'])))}",
            fontsize="small",
        )
        ax.set_xlabel("Strategy")
        ax.set_ylabel("Selection time (s)")
    if out is not None:
        save_figure(fig, out)
    return fig


def _seconds_cell(row: pd.Series) -> str:
    if row["band_kind"] == "none":
        return f"{row['seconds']:.3g} ({seeds_text(1)})"
    half = (row["band_hi"] - row["band_lo"]) / 2
    return f"{row['seconds']:.3g} ± {half:.2g}"


def sampling_time_figure(
    runs: pd.DataFrame, root: str | Path = "results", out: str | Path | None = None
) -> Captioned:
    """The paper's sampling-time table from these runs: seconds per selection per strategy at the
    same pool size (each run's first query), naming the hardware, with missing strategies listed."""
    table = sampling_time_table(not_ablation(runs))
    if table.empty:
        raise NoFigure(NO_QUERIES.format(root=root))
    fig = Figure(figsize=(8, 0.6 + 0.3 * (len(table) + 1)), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    ax.axis("off")
    missing = []
    # the training inside a query (ensembles, QBC): a column only when a strategy reported one;
    # "-" in it: that strategy trains nothing inside its query
    trains = bool(table["extra_train_s"].notna().any())
    cells = [
        [
            experiment_title(not_ablation(runs), r.experiment),
            strategy_label(r.strategy),
            f"{r.unlabeled}",
            f"{r.n_selected}",
            _seconds_cell(pd.Series(r._asdict())),
            *([("-" if np.isnan(r.extra_train_s) else f"{r.extra_train_s:.3g}")] if trains else []),
            str(r.n_seeds),
            r.hardware,
        ]
        for r in table.itertuples()
    ]
    head = ["dataset", "method", "unlabeled (images)", "queried (images)", "seconds"]
    head += ["of which training (s)"] if trains else []
    head += ["seeds", "hardware"]
    tab = ax.table(cellText=cells, colLabels=head, loc="center")
    tab.auto_set_font_size(False)
    tab.set_fontsize(8)
    tab.auto_set_column_width(list(range(len(head))))
    for exp, rows in table.groupby("experiment"):
        absent = [s for s in timed_strategies(exp) if s not in set(rows["strategy"])]
        if absent:
            missing.append(f"{exp}: {', '.join(absent)} not run")
        if rows["hardware"].nunique() > 1 or rows["hardware"].str.contains(";").any():
            missing.append(f"{exp}: strategies ran on different hardware; times do not compare")
    hardware = "; ".join(sorted(set(table["hardware"])))
    body = [
        "Seconds per selection of each run's first query (cycle 0: the same unlabeled pool for",
        f"every strategy), mean over seeds ± half the band ({band_label(table['n_seeds'].tolist())}).",
        f"Hardware: {hardware}; devices: {'; '.join(sorted(set(table['device']))) or 'n/a'}.",
        "The paper's sampling times are not in analysis/reference_data.",
        "Of which training: seconds of model training inside the query (ensembles, QBC); '-': none."
        if table["extra_train_s"].notna().any()
        else "",
    ]
    return captioned_figure(fig, "Sampling time", body, missing, out)
