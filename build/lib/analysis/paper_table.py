"""Our reproduction beside every paper reference point, point by point.

A reference point is a row of `load_reference()` whose value is the paper's own (kind `paper_npy`:
exact, from the authors' ImageNet result arrays; kind `secondhand_quote`: a paper number quoted
in a public thread, approximate) and whose method is one of our strategies. Third-party
reproductions and numbers from other papers are not the paper's, so they are left out.

For each point and each non-ablation experiment of its dataset: our mean over seeds at that
labeled percentage, the 95% t-interval half-width (n >= 2 seeds), ours - paper in points, whether
that lies within ±1 point, and whether the paper's value lies inside our interval. A point
without runs stays in the table, saying so.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from .reference import dataset_key, load_reference
from .stats import percent_scale

__all__ = ["PAPER_METHODS", "PAPER_KINDS", "paper_vs_reproduction", "paper_table_display"]

# legend names of the paper's figures -> our strategy names; the initial pool is shared by all
# strategies (same seed, same labeled set), so random's first cycle stands for it
PAPER_METHODS: dict[str, str] = {
    "VAAL": "vaal",
    "Core-set": "coreset",
    "Ensembles w. VarR": "ensemble_varr",
    "MC-Dropout": "mc_dropout",
    "DBAL": "dbal",
    "Random": "random",
    "Initial pool (shared start, all methods)": "random",
}
PAPER_KINDS = ("paper_npy", "secondhand_quote")
WITHIN_POINTS = 1.0
PERCENT_TOLERANCE = 0.5  # our fraction (in %) may differ this much from the paper's x value

COLUMNS = [
    "dataset",
    "method",
    "strategy",
    "labeled_percent",
    "paper",
    "reference",
    "experiment",
] + ["protocol", "n_seeds", "ours", "ci95", "diff", "within_1pt", "paper_in_ci", "source"]


def _reference_points() -> pd.DataFrame:
    ref = load_reference()
    ref = ref[ref["kind"].isin(PAPER_KINDS) & ref["method"].isin(list(PAPER_METHODS))]
    ref = ref[ref["mean"].notna() & ref["labeled_percent"].notna()].copy()
    ref["strategy"] = ref["method"].map(PAPER_METHODS)
    exact = ref["verification_status"].astype(str).str.startswith("exact")
    ref["reference"] = np.where(exact, "exact", "approx.")
    return ref.reset_index(drop=True)


def _ours(runs: pd.DataFrame, strategy: str, percent: float) -> tuple[int, float, float]:
    """(seeds, mean %, 95% half-width %) of `strategy` at `percent` labeled; NaN when absent."""
    scale = percent_scale(runs["value"])
    at = runs[(runs["strategy"] == strategy)]
    at = at[(at["fraction"] * 100 - percent).abs() <= PERCENT_TOLERANCE]
    values = at.groupby("seed")["value"].mean().to_numpy(float) * scale
    n = len(values)
    if n == 0:
        return 0, np.nan, np.nan
    half = np.nan
    if n >= 2:
        half = float(stats.t.ppf(0.975, n - 1) * values.std(ddof=1) / np.sqrt(n))
    return n, float(values.mean()), half


def paper_vs_reproduction(df: pd.DataFrame) -> pd.DataFrame:
    """One row per (paper reference point, non-ablation experiment of its dataset); see module."""
    ref = _reference_points()
    if len(df):
        plain = df[df["ablation"].isna()] if "ablation" in df else df
        keys = plain["dataset"].map(dataset_key)
    else:
        plain, keys = df, pd.Series(dtype=str)
    rows = []
    for point in ref.itertuples(index=False):
        runs_of_dataset = plain[keys == dataset_key(point.dataset)]
        experiments = sorted(runs_of_dataset["experiment"].unique()) or [None]
        for experiment in experiments:
            runs = runs_of_dataset[runs_of_dataset["experiment"] == experiment]
            n, ours, half = (0, np.nan, np.nan)
            if len(runs):
                n, ours, half = _ours(runs, point.strategy, float(point.labeled_percent))
            diff = ours - float(point.mean)
            rows.append(
                dict(
                    dataset=point.dataset,
                    method=point.method,
                    strategy=point.strategy,
                    labeled_percent=float(point.labeled_percent),
                    paper=float(point.mean),
                    reference=point.reference,
                    experiment=experiment,
                    protocol=", ".join(sorted(runs["protocol"].unique())) if len(runs) else None,
                    n_seeds=n,
                    ours=ours,
                    ci95=half,
                    diff=diff,
                    within_1pt=bool(abs(diff) <= WITHIN_POINTS) if n else None,
                    paper_in_ci=bool(abs(diff) <= half) if n >= 2 else None,
                    source=point.source,
                )
            )
    return pd.DataFrame(rows, columns=COLUMNS)


def _fmt(x: float, spec: str) -> str:
    return "n/a" if x is None or pd.isna(x) else format(x, spec)


def _yes_no(x: object) -> str:
    return "n/a" if x is None or pd.isna(x) else ("yes" if x else "no")


def paper_table_display(table: pd.DataFrame) -> pd.DataFrame:
    """The table as people read it: ours ± interval, difference, verdict; approx. points marked."""
    cols = ["dataset", "method", "labeled (%)", "paper (%)", "ours (%)", "seeds", "diff (pts)"]
    cols += ["within ±1 pt", "paper in our 95% CI", "experiment"]
    if table.empty:
        return pd.DataFrame(columns=cols)
    ours = []
    for n, m, h in zip(table["n_seeds"], table["ours"], table["ci95"], strict=True):
        if n == 0:
            ours.append("no runs")
        elif n == 1:
            ours.append(f"{m:.2f} (n=1, no interval)")
        else:
            ours.append(f"{m:.2f} ± {h:.2f}")
    paper = [
        f"{p:.2f}" if r == "exact" else f"~{p:.1f} (approx.)"
        for p, r in zip(table["paper"], table["reference"], strict=True)
    ]
    return pd.DataFrame(
        {
            "dataset": table["dataset"],
            "method": table["method"],
            "labeled (%)": [f"{p:g}" for p in table["labeled_percent"]],
            "paper (%)": paper,
            "ours (%)": ours,
            "seeds": table["n_seeds"],
            "diff (pts)": [_fmt(d, "+.2f") for d in table["diff"]],
            "within ±1 pt": [_yes_no(w) for w in table["within_1pt"]],
            "paper in our 95% CI": [_yes_no(w) for w in table["paper_in_ci"]],
            "experiment": table["experiment"].fillna("—"),
        }
    )[cols]
