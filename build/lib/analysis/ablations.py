"""VAAL's own ablations set against the VAAL they modify, seed by seed.

An ablation experiment (`ablation_noadv_mnist`, ...) changes one key of its base spec and runs
the same seeds, so seed k of the variant and seed k of the base share their initial labeled set:
the AUBC difference is paired on seed, as every comparison in `stats`. Next to it stands what the
discriminator learned each cycle (its held-out ROC-AUC, mean over seeds), because an ablation that
leaves the discriminator at chance cannot change *what* VAAL selects, only how long it takes.

Each variant is compared with random *under the same ablation* (noise, budget and pool ablations
change what random sees too); only ablations of VAAL's own parts, which leave random's spec
untouched, borrow the base experiment's random (`random_from` names the experiment used). Every
AUBC difference is taken over the budgets both sides reached (`common_grid`): a budget ablation
runs another schedule than its base.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .expected import ABLATION_FAMILIES, ablation_family
from .runs import QS_PREFIX
from .stats import aubc, common_grid, paired_test

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
    "random_from",
    "disc_auc_by_cycle",
    "chance_band",
]


def _runs_of(df: pd.DataFrame, experiment: str, strategy: str) -> pd.DataFrame:
    return df[(df["experiment"] == experiment) & (df["strategy"] == strategy) & df["complete"]]


def _per_seed(runs: pd.DataFrame, grid: list[int] | None = None) -> pd.Series:
    per_run = aubc(runs, grid=grid)
    return per_run[per_run["complete"]].set_index("seed")["aubc"]


def _paired(a: pd.DataFrame, b: pd.DataFrame) -> tuple[float, float]:
    """Paired AUBC difference a - b (and its t-test p) over the budgets both reached."""
    grid = common_grid(pd.concat([a, b]))
    if not grid or a.empty or b.empty:
        return np.nan, np.nan
    sa, sb = _per_seed(a, grid), _per_seed(b, grid)
    seeds = sa.index.intersection(sb.index)
    if len(seeds) == 0:
        return np.nan, np.nan
    res = paired_test(sa[seeds].to_numpy(), sb[seeds].to_numpy())
    return res["mean_diff"], res["p_ttest"]


def _random_source(df: pd.DataFrame, experiment: str, variant: str, base_exp: str | None) -> str:
    """The experiment whose random runs stand for random under this variant ('' when none)."""
    if len(_runs_of(df, experiment, "random")):
        return experiment
    family = ablation_family(variant)
    untouched = family is not None and ABLATION_FAMILIES[family].per_variant  # VAAL's knobs only
    if (variant == "base" or untouched) and base_exp is not None:
        return base_exp if len(_runs_of(df, base_exp, "random")) else ""
    return ""


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
    (`p_vs_base`: paired t-test). `diff_vs_random`: against random under the same ablation
    (`random_from`; see the module docstring). Differences are over the budgets both sides share;
    `aubc_mean` over the variant's own schedule. Metric units (fractions for accuracy). Complete
    runs only.
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
            scores = runs[(runs["experiment"] == exp) & (runs["strategy"] == strategy)]
            scores = scores.set_index("seed")["aubc"]
            variant = kinds.get(exp) if isinstance(kinds.get(exp), str) else "base"
            mine = _runs_of(df, exp, strategy)
            vs_base = (np.nan, np.nan)
            if base_exp is not None and exp != base_exp:
                vs_base = _paired(mine, _runs_of(df, base_exp, strategy))
            random_from = _random_source(df, exp, variant, base_exp)
            vs_random = (np.nan, np.nan)
            if random_from:
                vs_random = _paired(mine, _runs_of(df, random_from, "random"))
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
                    random_from=random_from,
                    disc_auc_by_cycle=aucs,
                    chance_band=band,
                )
            )
    return pd.DataFrame(rows, columns=COLUMNS)
