"""VAAL's own ablations set against the VAAL they modify, seed by seed.

An ablation experiment (`ablation_noadv_mnist`, ...) changes one key of its base spec and runs
the same seeds, so seed k of the variant and seed k of the base share their initial labeled set:
the AUBC difference is paired on seed, as every comparison in `stats`. Next to it stands what the
discriminator learned each cycle (its held-out ROC-AUC, mean over seeds), because an ablation that
leaves the discriminator at chance cannot change *what* VAAL selects, only how long it takes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .runs import QS_PREFIX
from .stats import aubc, paired_test

COLUMNS = [
    "dataset",
    "variant",
    "experiment",
    "n_seeds",
    "aubc_mean",
    "aubc_std",
    "diff_vs_base",
    "p_vs_base",
    "diff_vs_random",
    "p_vs_random",
    "disc_auc_by_cycle",
    "chance_band",
]


def _per_seed(runs: pd.DataFrame, experiment: str, strategy: str) -> pd.Series:
    rows = runs[(runs["experiment"] == experiment) & (runs["strategy"] == strategy)]
    return rows.set_index("seed")["aubc"]


def _paired(a: pd.Series, b: pd.Series) -> tuple[float, float]:
    seeds = a.index.intersection(b.index)
    if len(seeds) == 0:
        return np.nan, np.nan
    res = paired_test(a[seeds].to_numpy(), b[seeds].to_numpy())
    return res["mean_diff"], res["p_ttest"]


def _auc_by_cycle(df: pd.DataFrame, experiment: str, strategy: str) -> tuple[str, float]:
    col = QS_PREFIX + "disc_auc"
    rows = df[(df["experiment"] == experiment) & (df["strategy"] == strategy)]
    if col not in rows or rows[col].isna().all():
        return "", np.nan
    auc = pd.to_numeric(rows[col], errors="coerce").groupby(rows["cycle"]).mean().dropna()
    band_col = QS_PREFIX + "disc_auc_band"
    band = pd.to_numeric(rows[band_col], errors="coerce").mean() if band_col in rows else np.nan
    return " ".join(f"{v:.2f}" for v in auc), float(band)


def vaal_ablation_table(df: pd.DataFrame, strategy: str = "vaal") -> pd.DataFrame:
    """One row per experiment that ran `strategy`: the base first, then each ablation variant.

    `diff_vs_base`: variant AUBC minus the base experiment's `strategy` AUBC, paired on seed
    (`p_vs_base`: paired t-test). `diff_vs_random`: against the base experiment's `random` runs.
    AUBC is in the metric's own units (fractions for accuracy). Complete runs only.
    """
    per_run = aubc(df)
    per_run = per_run[per_run["complete"]]
    rows = []
    for dataset, runs in per_run.groupby("dataset", sort=True):
        kinds = df.drop_duplicates("experiment").set_index("experiment")["ablation"]
        base = [e for e in runs["experiment"].unique() if not isinstance(kinds.get(e), str)]
        base_exp = base[0] if len(base) == 1 else None  # several bases: no unambiguous reference
        mine = runs[runs["strategy"] == strategy]
        order = sorted(mine["experiment"].unique(), key=lambda e: (e != base_exp, e))
        for exp in order:
            scores = _per_seed(runs, exp, strategy)
            variant = kinds.get(exp) if isinstance(kinds.get(exp), str) else "base"
            vs_base = (np.nan, np.nan)
            vs_random = (np.nan, np.nan)
            if base_exp is not None:
                if exp != base_exp:
                    vs_base = _paired(scores, _per_seed(runs, base_exp, strategy))
                vs_random = _paired(scores, _per_seed(runs, base_exp, "random"))
            aucs, band = _auc_by_cycle(df, exp, strategy)
            rows.append(
                dict(
                    dataset=dataset,
                    variant=variant,
                    experiment=exp,
                    n_seeds=int(scores.index.nunique()),
                    aubc_mean=float(scores.mean()),
                    aubc_std=float(scores.std(ddof=1)) if len(scores) > 1 else np.nan,
                    diff_vs_base=vs_base[0],
                    p_vs_base=vs_base[1],
                    diff_vs_random=vs_random[0],
                    p_vs_random=vs_random[1],
                    disc_auc_by_cycle=aucs,
                    chance_band=band,
                )
            )
    return pd.DataFrame(rows, columns=COLUMNS)
