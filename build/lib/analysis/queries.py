"""What the records say about the queries themselves: VAAL's discriminator and class balance.

A discriminator whose ROC-AUC between held-out labeled and unlabeled images lies inside the chance
band (Hanley & McNeil, Radiology 1982) ranks the pool no better than a coin: that cycle's VAAL
query was a random draw. A query whose class histogram departs from random's shows sampling bias.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .runs import QS_PREFIX

__all__ = ["chance_cycles", "chance_warnings", "class_shares", "class_bias"]

AUC, AUC_BAND = QS_PREFIX + "disc_auc", QS_PREFIX + "disc_auc_band"


def chance_cycles(df: pd.DataFrame) -> pd.DataFrame:
    """VAAL cycles whose discriminator AUC lies within 0.5 ± its chance band (band included)."""
    cols = ["experiment", "seed", "cycle", "auc", "band"]
    if AUC not in df or AUC_BAND not in df:
        return pd.DataFrame(columns=cols)
    v = df[(df["strategy"] == "vaal")].copy()
    v["auc"] = pd.to_numeric(v[AUC], errors="coerce")
    v["band"] = pd.to_numeric(v[AUC_BAND], errors="coerce")
    v = v[v["auc"].notna() & v["band"].notna()]
    at_chance = v[(v["auc"] - 0.5).abs() <= v["band"]]
    return at_chance.sort_values(["experiment", "seed", "cycle"])[cols].reset_index(drop=True)


def chance_warnings(df: pd.DataFrame) -> list[str]:
    """One line per VAAL cycle whose query was indistinguishable from random selection."""
    return [
        f"VAAL selected by chance this cycle ({r.experiment}, seed {r.seed}, cycle {r.cycle}, "
        f"AUC {r.auc:.3f}, band {r.band:.3f})"
        for r in chance_cycles(df).itertuples()
    ]


def class_shares(df: pd.DataFrame) -> pd.DataFrame:
    """Share of each true class among the images queried per (experiment, strategy, cycle).

    Histograms are summed over seeds before normalising, so every queried image weighs the same.
    """
    cols = ["experiment", "strategy", "cycle", "class", "count", "share", "n_seeds"]
    if "selected_classes" not in df:
        return pd.DataFrame(columns=cols)
    has = df[
        df["selected_classes"]
        .map(lambda h: isinstance(h, list | tuple) and len(h) > 0)
        .astype(bool)
    ]
    rows = []
    for (exp, strat, cycle), at in has.groupby(["experiment", "strategy", "cycle"], sort=True):
        width = max(len(h) for h in at["selected_classes"])
        total = np.zeros(width)
        for h in at["selected_classes"]:
            total[: len(h)] += np.asarray(h, dtype=float)
        shares = total / total.sum() if total.sum() else total
        n = at["seed"].nunique()
        rows += [
            dict(
                experiment=exp,
                strategy=strat,
                cycle=int(cycle),
                **{"class": k},
                count=int(c),
                share=s,
                n_seeds=n,
            )
            for k, (c, s) in enumerate(zip(total, shares, strict=True))
        ]
    return pd.DataFrame(rows, columns=cols)


def class_bias(shares: pd.DataFrame, reference: str = "random") -> pd.DataFrame:
    """Total-variation distance of each query's class shares from `reference`'s at the same cycle
    of the same experiment (random draws follow the pool's classes), else from uniform."""
    rows = []
    for (exp, strat, cycle), at in shares.groupby(["experiment", "strategy", "cycle"], sort=True):
        p = at.sort_values("class")["share"].to_numpy()
        ref = shares[
            (shares["experiment"] == exp)
            & (shares["strategy"] == reference)
            & (shares["cycle"] == cycle)
        ].sort_values("class")["share"]
        against = reference if len(ref) == len(p) and strat != reference else "uniform"
        q = ref.to_numpy() if against == reference else np.full(len(p), 1 / len(p))
        rows.append(
            dict(
                experiment=exp,
                strategy=strat,
                cycle=cycle,
                tv=0.5 * float(np.abs(p - q).sum()),
                against=against,
            )
        )
    return pd.DataFrame(rows, columns=["experiment", "strategy", "cycle", "tv", "against"])
