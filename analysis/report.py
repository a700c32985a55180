"""A results root turned into markdown tables, verdicts and figures in one call.

This is what `make demo` and `python -m analysis report` show a user, so it must never crash on thin
data: one strategy or one seed give 'n/a' statistics, not an exception.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import pandas as pd

from .ablations import vaal_ablation_table
from .diagnostics import chance_warnings, class_shares
from .expected import ABLATION_FAMILIES
from .plotting import (
    _sort_strategies,
    ablation_figure,
    dataset_name,
    plot_curves,
    plot_query_classes,
    plot_sampling_time,
    plot_vaal_diagnostics,
    sampling_time_figure,
    save_figure,
    strategy_label,
)
from .reference import load_reference
from .runs import QS_PREFIX, load_runs
from .stats import TOPLINE, aubc_summary, compare, percent_scale, summarize, verdicts, win_tie_loss

__all__ = ["report", "markdown_table"]


def markdown_table(frame: pd.DataFrame) -> str:
    """A GitHub markdown table of a frame's columns (index ignored), cells as given."""
    header = [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for row in frame.itertuples(index=False):
        lines.append("| " + " | ".join(str(v) for v in row) + " |")
    return "\n".join(lines)


def _num(x: float, fmt: str = ".2f") -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, fmt)


def _pm(mean: float, std: float, n: int) -> str:
    cell = f"{_num(mean)} ± {_num(std)}"
    return cell if n >= 2 else f"{cell} (n=1)"


def _summary_table(exp: pd.DataFrame, scale: float) -> str:
    s = summarize(exp)
    s["cell"] = [
        _pm(m * scale, sd * scale, n)
        for m, sd, n in zip(s["mean"], s["std"], s["n_seeds"], strict=True)
    ]
    s["method"] = s["strategy"].map(strategy_label)
    wide = s.pivot_table(
        index=["n_labeled", "fraction"], columns="method", values="cell", aggfunc="first"
    )
    order = [strategy_label(x) for x in _strategies(exp)]
    wide = wide[[c for c in order if c in wide.columns]].fillna("—").reset_index()
    wide.insert(1, "labeled (%)", [f"{f * 100:.1f}" for f in wide.pop("fraction")])
    return markdown_table(wide.rename(columns={"n_labeled": "labeled"}))


def _strategies(exp: pd.DataFrame) -> list[str]:
    return _sort_strategies(exp["strategy"])


def _aubc_table(exp: pd.DataFrame, scale: float) -> str:
    a = aubc_summary(exp[exp["strategy"] != TOPLINE])
    a = a.set_index("strategy").loc[[s for s in _strategies(exp) if s in set(a["strategy"])]]
    a = a.reset_index()
    if a.empty:
        return "_no complete runs yet: AUBC needs whole curves_"
    table = pd.DataFrame(
        {
            "strategy": a["strategy"].map(strategy_label),
            "AUBC (%)": [
                _pm(m * scale, sd * scale, n)
                for m, sd, n in zip(a["mean"], a["std"], a["n_seeds"], strict=True)
            ],
            "complete seeds": a["n_seeds"],
        }
    )
    return markdown_table(table)


def _compare_table(cmp: pd.DataFrame, scale: float) -> str:
    table = pd.DataFrame(
        {
            "strategy": cmp["strategy"].map(strategy_label),
            "labeled": cmp["n_labeled"],
            "pairs": cmp["n_pairs"],
            "diff": [_num(d * scale, "+.2f") for d in cmp["mean_diff"]],
            "Cohen's d": [_num(d) for d in cmp["cohen_d"]],
            "p (t)": [_num(p, ".3g") for p in cmp["p_ttest"]],
            "p (Wilcoxon)": [_num(p, ".3g") for p in cmp["p_wilcoxon"]],
            "p Holm (t)": [_num(p, ".3g") for p in cmp["p_holm"]],
            "significant": ["yes" if s else "" for s in cmp["significant"]],
        }
    )
    return markdown_table(table)


def _experiment_section(exp: pd.DataFrame, baseline: str) -> list[str]:
    """Tables and verdicts of one experiment."""
    name = exp["experiment"].iloc[0]
    metric = exp["metric"].iloc[0]
    scale = percent_scale(exp["value"])
    unit = "%" if scale == 100 else metric
    protocols = ", ".join(sorted(exp["protocol"].unique()))
    kind = exp["ablation"].iloc[0] if "ablation" in exp else None
    ablation = f", ablation {kind}" if isinstance(kind, str) else ""
    head = f"## {name}: {dataset_name(exp['dataset'].iloc[0])}, {metric}, protocol {protocols}"
    out = [head + ablation, ""]
    runs = exp.drop_duplicates("run_dir")
    counts = []
    for s in _strategies(exp):
        r = runs[runs["strategy"] == s]
        counts.append(f"{s}: {len(r)} seed(s), {int(r['complete'].sum())} complete")
    out += ["Runs: " + "; ".join(counts), ""]
    partial = runs[~runs["complete"]]
    for row in partial.itertuples():
        got = int((exp["run_dir"] == row.run_dir).sum())
        want = "?" if pd.isna(row.expected_cycles) else int(row.expected_cycles)
        out.append(f"- partial run: {row.run_dir} ({got}/{want} cycles)")
    if len(partial):
        out.append("")
    out += [f"### {metric} ({unit}), mean ± std over seeds", "", _summary_table(exp, scale), ""]
    out += ["### Area under the budget curve (complete runs)", "", _aubc_table(exp, scale), ""]
    tested = sorted(set(exp["strategy"]) - {TOPLINE})
    if baseline not in tested:
        out += [f"_no {baseline!r} runs: nothing to compare against_", ""]
        return out
    if len(tested) < 2:
        out += [f"_only {baseline!r} was run: nothing to compare_", ""]
        return out
    cmp = compare(exp, baseline=baseline)
    out += [
        f"### Paired comparison with {baseline} (paired on seed, Holm across budgets)",
        "",
        f"diff = strategy − {baseline} in {unit} points",
        "",
        _compare_table(cmp, scale),
        "",
        "### Verdicts",
        "",
    ]
    out += [f"- {v}" for v in verdicts(exp, baseline=baseline)["verdict"]]
    wtl = win_tie_loss(exp)
    if wtl.attrs.get("comparisons", 0):
        wtl.index = [strategy_label(s) for s in wtl.index]
        wtl.columns = [strategy_label(s) for s in wtl.columns]
        out += [
            "",
            "### Pairwise wins (row beats column; paired t-test p<0.05; Ash et al. 2020)",
            "",
            markdown_table(wtl.reset_index(names="winner")),
        ]
    return out + [""]


def _vaal_ablation_section(df: pd.DataFrame) -> list[str]:
    """VAAL's ablations beside the VAAL they modify; nothing when no ablation ran VAAL."""
    table = vaal_ablation_table(df)
    if not (table["variant"] != "base").any():
        return []
    scale = percent_scale(df["value"])
    shown = pd.DataFrame(
        {
            "dataset": table["dataset"].map(dataset_name),
            "variant": table["variant"],
            "seeds": table["n_seeds"],
            "AUBC": [
                _pm(m * scale, s * scale, n)
                for m, s, n in zip(
                    table["aubc_mean"], table["aubc_std"], table["n_seeds"], strict=True
                )
            ],  # fmt: skip
            "Δ vs base VAAL": [_num(d * scale) for d in table["diff_vs_base"]],
            "p vs base": [_num(p, ".3f") for p in table["p_vs_base"]],
            "Δ vs random": [_num(d * scale) for d in table["diff_vs_random"]],
            "p vs random": [_num(p, ".3f") for p in table["p_vs_random"]],
            "disc AUC by cycle": table["disc_auc_by_cycle"],
            "chance ±": [_num(b) for b in table["chance_band"]],
        }
    )
    return [
        "## VAAL ablations against base VAAL (AUBC paired on seed)",
        "",
        "Δ in points; p from a paired t-test over seeds; the discriminator's held-out ROC-AUC is",
        "the mean over seeds per cycle, at chance when within ± the band of 0.5.",
        "",
        markdown_table(shown),
        "",
    ]


def report(
    root: str | Path,
    out_dir: str | Path = "figures",
    baseline: str = "random",
    verbose: bool = True,
    figures: bool = True,
) -> str:
    """Markdown report of every experiment under `root`; figures go to `out_dir`.

    Writes `<experiment>.png/.pdf` (curves) per experiment, `ablation_<family>` per ablation
    family run, `sampling_time` (bars) and `sampling_time_table` (+ caption .txt),
    `vaal_diagnostics` and `query_classes` when the records carry what they need. Warns (one line
    per VAAL cycle) where the discriminator's AUC lies inside its chance band. Prints the markdown
    if `verbose`; `figures=False` gives the tables alone.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        df = load_runs(root)
    lines = [f"# VAAL reproduction report: {root}", ""]
    if caught:
        lines += ["Log issues:", ""] + [f"- {w.message}" for w in caught] + [""]
    chance = chance_warnings(df)
    if chance:
        lines += ["## VAAL discriminator at chance", ""]
        lines += [f"warning: {w}" for w in chance] + [""]
    for _, exp in df.groupby("experiment", sort=True):
        lines += _experiment_section(exp, baseline)
    lines += _vaal_ablation_section(df)
    if figures:
        written = _write_figures(df, root, Path(out_dir))
        lines += ["## Figures written", ""] + [f"- {p}" for p in written]
    text = "\n".join(lines) + "\n"
    if verbose:
        print(text)
    return text


def _write_figures(df: pd.DataFrame, root: str | Path, out_dir: Path) -> list[Path]:
    """Every figure the records allow; returns the files written."""
    written: list[Path] = []
    for experiment, exp in df.groupby("experiment", sort=True):
        ref = load_reference(exp["dataset"].iloc[0])
        fig = plot_curves(exp, reference=ref if len(ref) else None)
        written += save_figure(fig, out_dir / str(experiment))
    for name in ABLATION_FAMILIES:
        if df["ablation"].map(ABLATION_FAMILIES[name].matches).any():
            written += ablation_figure(df, name, root=root).save(out_dir / f"ablation_{name}")
    if (df["strategy"] != TOPLINE).any():
        written += save_figure(plot_sampling_time(df), out_dir / "sampling_time")
        written += sampling_time_figure(df, root=root).save(out_dir / "sampling_time_table")
    if QS_PREFIX + "disc_auc" in df or QS_PREFIX + "active_units" in df:
        vaal = df[df["strategy"] == "vaal"]
        if len(vaal) and vaal.filter(like=QS_PREFIX).notna().any().any():
            written += save_figure(plot_vaal_diagnostics(df), out_dir / "vaal_diagnostics")
    if len(class_shares(df)):
        written += save_figure(plot_query_classes(df), out_dir / "query_classes")
    return written
