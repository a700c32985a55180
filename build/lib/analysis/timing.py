"""Seconds per selection, compared where every strategy saw the same unlabeled pool.

The paper's sampling-time table times one query per method; here the first query of each run
(cycle 0: every strategy starts from the same initial labeled set, so the unlabeled pool has the
same size) is the comparable one. Times only compare on one machine, so the hardware is kept.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .runs import QS_PREFIX
from .stats import TOPLINE, band

__all__ = ["sampling_time_table"]

_COLS = ["experiment", "dataset", "strategy", "cycle", "unlabeled", "n_selected", "seconds"]
_COLS += ["band_lo", "band_hi", "band_kind", "n_seeds", "extra_train_s", "hardware", "device"]


def sampling_time_table(df: pd.DataFrame, cycle: int = 0) -> pd.DataFrame:
    """Mean seconds of the query at `cycle` per (experiment, strategy) with its band over seeds.

    `unlabeled` is the pool size the query ranked; `extra_train_s` is what the strategy reported
    as training inside its query (`query_stats.extra_train_s`), NaN when it reported none.
    """
    at = df[(df["strategy"] != TOPLINE) & (df["cycle"] == cycle)]
    at = at[pd.to_numeric(at["n_selected"], errors="coerce").fillna(0) > 0]
    rows = []
    for (exp, strat), runs in at.groupby(["experiment", "strategy"], sort=True):
        mean, lo, hi, kind = band(runs["query_s"])
        pool = (runs["n_labeled"] / runs["fraction"]).round() - runs["n_labeled"]
        extra = QS_PREFIX + "extra_train_s"
        rows.append(
            dict(
                experiment=exp,
                dataset=runs["dataset"].iloc[0],
                strategy=strat,
                cycle=cycle,
                unlabeled=int(pool.median()),
                n_selected=int(pd.to_numeric(runs["n_selected"]).median()),
                seconds=mean,
                band_lo=lo,
                band_hi=hi,
                band_kind=kind,
                n_seeds=runs["seed"].nunique(),
                extra_train_s=(
                    float(pd.to_numeric(runs[extra], errors="coerce").mean())
                    if extra in runs
                    else np.nan
                ),
                hardware="; ".join(sorted(set(runs["hardware"].dropna().astype(str)))),
                device="; ".join(sorted(set(runs["device"].dropna().astype(str)))),
            )
        )
    return pd.DataFrame(rows, columns=_COLS)
