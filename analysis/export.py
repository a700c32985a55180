"""Results that leave the suite as files: tidy records (CSV, parquet) and summary tables (CSV,
markdown, LaTeX booktabs), so a paper or another tool never has to parse cycles.jsonl.

`export(root, out)` writes, under `out`:
- `records.csv`, `records.parquet`: one row per cycle record, the columns of `load_runs`; list or
  dict cells (e.g. `selected_classes`) are JSON text so both formats read back unchanged;
- `summary.{csv,md,tex}`: mean, std, seeds and 95% t half-width per experiment x strategy x budget;
- `aubc.{csv,md,tex}`: area under the budget curve per experiment x strategy (complete runs);
- `paper_vs_reproduction.{csv,md,tex}`: `analysis.paper_table` (every paper reference point).

Every table shows percentages (accuracy 97.1, not 0.971): the CSV files as numbers with a `unit`
column, markdown and LaTeX as text; only records.csv/parquet keep the values as logged.
`export()` on a folder without runs writes the same files with headers only (and a note); the
`python -m analysis export` command refuses such a folder, as every analysis command does.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from vaal_core.storage import write_atomic

from .paper_table import paper_table_display, paper_vs_reproduction
from .report import markdown_table
from .runs import HOW_TO_RUN, RunLogError, load_runs
from .stats import TOPLINE, aubc_summary, percent_scale, summarize

__all__ = ["ExportError", "export", "tidy_records", "summary_table", "aubc_table", "to_booktabs"]

PYARROW_FIX = "install it with `.venv/bin/pip install pyarrow`, or pass --no-parquet"


class ExportError(RunLogError):
    """An export that cannot be written as asked; the message says what to do."""


def _cell_json(value: object) -> object:
    """A list/dict/array cell as JSON text; scalars and missing values unchanged."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value)
    return value


def _plain_column(col: pd.Series) -> pd.Series:
    """An object column as one parquet-friendly type: numbers -> float, else text (JSON for lists)."""
    values = [v for v in col if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if all(isinstance(v, (bool, np.bool_)) for v in values) and values:
        return col.astype("boolean")
    if all(isinstance(v, (int, float, np.number)) and not isinstance(v, bool) for v in values):
        return pd.to_numeric(col, errors="coerce").astype("float64")
    return col.map(_cell_json).astype("string")


def tidy_records(df: pd.DataFrame) -> pd.DataFrame:
    """The load_runs frame with every column of one plain type, ready for CSV and parquet."""
    out = df.copy()
    for name in out.columns:
        if out[name].dtype == object:
            out[name] = _plain_column(out[name])
    return out.reset_index(drop=True)


_SUMMARY_COLS = ["experiment", "dataset", "protocol", "strategy", "metric", "n_labeled"]
_SUMMARY_COLS += ["fraction", "mean", "std", "n_seeds", "ci95"]
_AUBC_COLS = ["experiment", "dataset", "protocol", "strategy", "metric", "mean", "std"]
_AUBC_COLS += ["n_seeds", "ci95"]


def summary_table(df: pd.DataFrame) -> pd.DataFrame:
    """Mean/std/seeds/95% half-width per experiment x strategy x budget, in logged units."""
    return summarize(df)[_SUMMARY_COLS] if len(df) else pd.DataFrame(columns=_SUMMARY_COLS)


def aubc_table(df: pd.DataFrame) -> pd.DataFrame:
    """AUBC mean/std/seeds/95% half-width per experiment x strategy (complete runs only)."""
    if not len(df) or not df["complete"].astype(bool).any():
        return pd.DataFrame(columns=_AUBC_COLS)
    # the top-line is one full-data point, not a curve: it has no area (the summary has its value)
    curves = df[df["complete"].astype(bool) & (df["strategy"] != TOPLINE)]
    return aubc_summary(curves)[_AUBC_COLS]


def _pm(mean: float, std: float, n: int, scale: float) -> str:
    if mean is None or pd.isna(mean):
        return "n/a"
    cell = f"{mean * scale:.2f}"
    return f"{cell} ± {std * scale:.2f}" if n >= 2 and pd.notna(std) else f"{cell} (n=1)"


def _in_percent(table: pd.DataFrame, scales: dict[str, float]) -> pd.DataFrame:
    """A summary/AUBC table as its CSV holds it: mean, std and ci95 in percent where the metric is
    logged as a fraction (accuracy 97.1, not 0.971), the labeled fraction as a percentage, and a
    `unit` column saying which."""
    out = table.copy()
    scale = out["experiment"].astype(str).map(scales).fillna(1.0).astype(float)
    for col in ("mean", "std", "ci95"):
        out[col] = pd.to_numeric(out[col], errors="coerce") * scale
    is_percent = (scale == 100) | out["metric"].astype(str).str.contains("percent")
    out.insert(out.columns.get_loc("mean"), "unit", np.where(is_percent, "%", "as logged"))
    if "fraction" in out:
        out.insert(out.columns.get_loc("fraction"), "labeled (%)", out.pop("fraction") * 100)
    return out


def _scales(df: pd.DataFrame) -> dict[str, float]:
    """Per experiment: 100 when its metric is logged as a fraction, else 1."""
    return {str(e): percent_scale(g["value"]) for e, g in df.groupby("experiment", sort=True)}


def _summary_display(table: pd.DataFrame, scales: dict[str, float]) -> pd.DataFrame:
    """What markdown and LaTeX show: labeled %, mean ± std in percent, seeds."""
    cols = ["experiment", "strategy", "labeled", "labeled (%)", "mean ± std (%)", "seeds"]
    if table.empty:
        return pd.DataFrame(columns=cols)
    return pd.DataFrame(
        {
            "experiment": table["experiment"],
            "strategy": table["strategy"],
            "labeled": table["n_labeled"],
            "labeled (%)": [f"{f * 100:.1f}" for f in table["fraction"]],
            "mean ± std (%)": _pm_column(table, scales),
            "seeds": table["n_seeds"],
        }
    )[cols]


def _pm_column(table: pd.DataFrame, scales: dict[str, float]) -> list[str]:
    """`mean ± std` of each row, in percent where its experiment's metric is a fraction."""
    rows = zip(table["experiment"], table["mean"], table["std"], table["n_seeds"], strict=True)
    return [_pm(m, s, n, scales.get(str(e), 1.0)) for e, m, s, n in rows]


def _aubc_display(table: pd.DataFrame, scales: dict[str, float]) -> pd.DataFrame:
    cols = ["experiment", "strategy", "AUBC mean ± std (%)", "complete seeds"]
    if table.empty:
        return pd.DataFrame(columns=cols)
    return pd.DataFrame(
        {
            "experiment": table["experiment"],
            "strategy": table["strategy"],
            "AUBC mean ± std (%)": _pm_column(table, scales),
            "complete seeds": table["n_seeds"],
        }
    )[cols]


def to_booktabs(table: pd.DataFrame, caption: str = "") -> str:
    """A LaTeX tabular with \\toprule/\\midrule/\\bottomrule (needs `\\usepackage{booktabs}`).

    Text is LaTeX-escaped (strategy names carry underscores); ± becomes $\\pm$.
    """
    shown = table.astype(str).map(lambda s: s.replace("±", "+-")) if len(table) else table
    styler = shown.style.hide(axis="index").format(escape="latex")
    styler = styler.format_index(escape="latex", axis="columns")
    tex = styler.to_latex(hrules=True, column_format="l" * max(1, len(table.columns)))
    tex = tex.replace("+-", r"$\pm$").replace("±", r"$\pm$")
    return (f"% {caption}\n" if caption else "") + tex


def _parquet_check() -> None:
    """Raise ExportError (one line, the fix named) when parquet cannot be written here."""
    try:
        import pyarrow  # noqa: F401
    except ImportError as e:
        raise ExportError(f"writing parquet needs the pyarrow package: {PYARROW_FIX}") from e


def _write_table(raw: pd.DataFrame, display: pd.DataFrame, stem: Path, caption: str) -> list[Path]:
    paths = [stem.with_suffix(".csv"), stem.with_suffix(".md"), stem.with_suffix(".tex")]
    write_atomic(paths[0], raw.to_csv(index=False).encode())
    write_atomic(paths[1], (markdown_table(display) + "\n").encode())
    write_atomic(paths[2], to_booktabs(display, caption).encode())
    return paths


def export(
    root: str | Path,
    out: str | Path,
    parquet: bool = True,
    note: Callable[[str], None] = print,
) -> list[Path]:
    """Write the tidy records and the summary tables of `root` under `out`; returns the files.

    Raises ExportError when `root` is not a folder or parquet is asked for without pyarrow
    (checked before anything is written), RunLogError on unusable logs.
    """
    root, out = Path(root), Path(out)
    if not root.is_dir():
        raise ExportError(f"results folder {root} does not exist; {HOW_TO_RUN}")
    if parquet:
        _parquet_check()
    df = load_runs(root, allow_empty=True)
    if df.empty:
        note(f"note: no runs under {root}: wrote tables with headers only; {HOW_TO_RUN}")
    out.mkdir(parents=True, exist_ok=True)
    records = tidy_records(df)
    written = [out / "records.csv"]
    write_atomic(written[0], records.to_csv(index=False).encode())
    if parquet:
        written.append(out / "records.parquet")
        write_atomic(written[-1], lambda f: records.to_parquet(f, index=False))
    scales = _scales(df)
    summary = summary_table(df)
    written += _write_table(
        _in_percent(summary, scales),
        _summary_display(summary, scales),
        out / "summary",
        "mean +- std over seeds per experiment, strategy and budget",
    )
    aubc = aubc_table(df)
    written += _write_table(
        _in_percent(aubc, scales),
        _aubc_display(aubc, scales),
        out / "aubc",
        "area under the budget curve (complete runs), mean +- std over seeds",
    )
    paper = paper_vs_reproduction(df)
    written += _write_table(
        paper,
        paper_table_display(paper),
        out / "paper_vs_reproduction",
        "reproduction vs the paper's reference points (approx.: read secondhand)",
    )
    return written
