"""Whether the task model fit its own labeled set, cycle by cycle.

A task model that does not fit the images it was trained on makes that cycle's test metric a
measure of training luck, not of the labeled set a strategy selected. The engine records
`train_fit` (the task metric on the labeled set, eval mode), `nonfinite_losses` and its verdict
`fit_ok` (rule: see the README's "Training health"); records written before those fields carry
<NA>: unknown, never counted as unhealthy. Unhealthy points are flagged everywhere, never dropped.
"""

from __future__ import annotations

import pandas as pd

from .style import strategy_label

__all__ = ["unhealthy_cycles", "health_warnings"]

_COLS = ["experiment", "strategy", "seed", "cycle", "n_labeled", "value", "train_fit"]


def unhealthy_cycles(df: pd.DataFrame) -> pd.DataFrame:
    """Records whose `fit_ok` is False (missing counts as unknown, not unhealthy)."""
    if "fit_ok" not in df:
        return pd.DataFrame(columns=_COLS + ["nonfinite_losses"])
    bad = df[df["fit_ok"].astype("boolean").eq(False).fillna(False).astype(bool)]
    extra = bad["nonfinite_losses"] if "nonfinite_losses" in bad else pd.Series(index=bad.index)
    out = bad.reindex(columns=_COLS).assign(nonfinite_losses=extra)
    return out.sort_values(["experiment", "strategy", "seed", "cycle"]).reset_index(drop=True)


def health_warnings(df: pd.DataFrame) -> list[str]:
    """One line per unhealthy cycle, naming the strategy as the legends do."""
    lines = []
    for r in unhealthy_cycles(df).itertuples():
        where = f"{r.experiment}: {strategy_label(r.strategy)} seed {r.seed} cycle {r.cycle}"
        if pd.notna(r.train_fit):
            what = f"the task model reached {100 * r.train_fit:.0f}% on its own labeled set"
        else:
            what = "the task model did not fit its labeled set"
        if pd.notna(r.nonfinite_losses) and r.nonfinite_losses:
            what += f" ({int(r.nonfinite_losses)} non-finite losses skipped)"
        lines.append(f"{where}: {what}; this point measures training, not selection")
    return lines
