"""A results root turned into markdown tables, verdicts and figures in one call.

This is what `make demo` and `python -m analysis report` show a user, so it must never crash on thin
data: one strategy or one seed give 'n/a' statistics, not an exception.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from vaal_core.storage import write_atomic

from .ablations import vaal_ablation_table
from .efficiency import label_efficiency
from .figures import Drawn, draw_figures
from .health import health_warnings
from .queries import chance_warnings
from .runs import load_runs
from .stats import (
    FAMILY,
    TOPLINE,
    aubc_diffs,
    aubc_summary,
    compare,
    percent_scale,
    summarize,
    training_noise,
    verdicts,
    win_tie_loss,
)
from .style import dataset_name, seeds_text, sort_strategies, strategy_label
from .topline import topline_recipe, topline_warnings

__all__ = ["report", "build_report", "Report", "REPORT_FILE", "markdown_table"]


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
    return sort_strategies(exp["strategy"])


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
            "p Holm (family)": [_num(p, ".3g") for p in cmp["p_holm_family"]],
            "significant": ["yes" if s else "" for s in cmp["significant"]],
            "unhealthy": cmp["unhealthy"],
        }
    )
    table.loc[cmp["shared"].to_numpy(), "p (t)"] = "shared set: not tested"
    return markdown_table(table)


def _aubc_diff_table(exp: pd.DataFrame, baseline: str, scale: float) -> str:
    d = aubc_diffs(exp, baseline)
    if d.empty or not (d["n_pairs"] > 0).any():
        return "_no complete paired runs: AUBC differences need whole curves of both_"
    table = pd.DataFrame(
        {
            "strategy": d["strategy"].map(strategy_label),
            "pairs": d["n_pairs"],
            "budgets": d["budgets"],
            f"AUBC − {baseline}": [_num(m * scale, "+.2f") for m in d["mean_diff"]],
            "95% CI (paired t)": [
                "n/a (needs 2 pairs)" if pd.isna(lo) else f"[{lo * scale:+.2f}, {hi * scale:+.2f}]"
                for lo, hi in zip(d["ci_lo"], d["ci_hi"], strict=True)
            ],
        }
    )
    return markdown_table(table)


def _noise_table(exp: pd.DataFrame, baseline: str, scale: float) -> str:
    n = training_noise(exp, baseline)
    if n.empty:
        return "_nothing to compare_"
    n["cell"] = [
        _num(d * scale, "+.2f") + (" (shared set)" if s else "")
        for d, s in zip(n["mean_diff"], n["shared"], strict=True)
    ]
    n["method"] = n["strategy"].map(strategy_label)
    wide = n.pivot_table(index="n_labeled", columns="method", values="cell", aggfunc="first")
    std = n.drop_duplicates("n_labeled").set_index("n_labeled")["baseline_std"]
    wide.insert(0, f"{baseline} std over seeds", [_num(v * scale) for v in std[wide.index]])
    return markdown_table(wide.reset_index().rename(columns={"n_labeled": "labeled"}))


def _efficiency_table(exp: pd.DataFrame, baseline: str, scale: float) -> str:
    e = label_efficiency(exp, baseline=baseline)
    if e.empty or e["target"].isna().all():
        return f"_no {baseline} curve to set a target_"
    e = e.set_index("strategy").loc[[s for s in _strategies(exp) if s in set(e["strategy"])]]
    table = pd.DataFrame(
        {
            "strategy": [strategy_label(s) for s in e.index],
            "labels needed": ["not reached" if pd.isna(v) else f"{v:.0f}" for v in e["labels"]],
            f"ratio to {baseline}": [_num(r) for r in e["ratio"]],
            "read": e["note"].to_numpy(),
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
        counts.append(
            f"{strategy_label(s)}: {seeds_text(len(r))}, {int(r['complete'].sum())} complete"
        )
    out += ["Runs: " + "; ".join(counts), ""]
    recipe = topline_recipe(exp)
    if recipe:
        out += [recipe, ""]
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
        f"### Paired comparison with {baseline} (paired on seed)",
        "",
        f"diff = strategy − {baseline} in {unit} points. Budgets where both trained on the same",
        "labeled set (equal labeled_sha1 at every seed, e.g. the shared initial pool) are not",
        f"tested. p Holm (t): across one strategy's budgets; p Holm (family): {FAMILY}",
        "(the verdicts use it). unhealthy: points in the pairs whose task model did not fit.",
        "",
        _compare_table(cmp, scale),
        "",
        f"### AUBC difference from {baseline} (paired on seed, 95% t-interval over seeds)",
        "",
        "Both AUBCs over the budgets the two strategies share; in points.",
        "",
        _aubc_diff_table(exp, baseline, scale),
        "",
        "### Training noise beside selection",
        "",
        f"Per budget: the seed-to-seed std of {baseline} (the learner's own noise) and each",
        f"strategy's mean paired difference from {baseline}, in {unit} points. A difference no",
        "larger than the std may be training noise, whatever a test says.",
        "",
        _noise_table(exp, baseline, scale),
        "",
        "### Label efficiency",
        "",
        f"Labels needed to reach {baseline}'s mean at its last budget, read off each mean curve",
        "over seeds by linear interpolation between budgets; ratio < 1: fewer labels than "
        f"{baseline}.",
        "",
        _efficiency_table(exp, baseline, scale),
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
            "### Pairwise wins (row beats column; paired t-test, Holm over every pair x budget of "
            "the experiment, p<0.05; Ash et al. 2020)",
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
            ],
            "Δ vs base VAAL": [_num(d * scale) for d in table["diff_vs_base"]],
            "p vs base": [_num(p, ".3f") for p in table["p_vs_base"]],
            "Δ vs random": [_num(d * scale) for d in table["diff_vs_random"]],
            "p vs random": [_num(p, ".3f") for p in table["p_vs_random"]],
            "random from": table["random_from"].replace("", "not run"),
            "disc AUC by cycle": table["disc_auc_by_cycle"],
            "chance ±": [_num(b) for b in table["chance_band"]],
        }
    )
    return [
        "## VAAL ablations against base VAAL (AUBC paired on seed)",
        "",
        "Δ in points over the budgets both sides share; p from a paired t-test over seeds; random",
        "is random under the same ablation (`random from`); the discriminator's held-out ROC-AUC",
        "is the mean over seeds per cycle, at chance when within ± the band of 0.5.",
        "",
        markdown_table(shown),
        "",
    ]


REPORT_FILE = "report.md"


@dataclass
class Report:
    """The markdown of a report and every file written with it (report.md first)."""

    text: str
    files: list[Path] = field(default_factory=list)

    def _repr_markdown_(self) -> str:
        return self.text


def _figure_section(drawn: list[Drawn], out_dir: Path) -> list[str]:
    lines = ["## Figures", ""]
    for d in drawn:
        for stem in d.figures:
            lines.append(f"- {stem}: {out_dir / stem}.png (.pdf, caption .txt)")
    if not any(d.figures for d in drawn):
        lines.append("_none: the runs allow no figure yet_")
    skipped = [d.not_drawn for d in drawn if d.not_drawn]
    if skipped:
        lines += ["", "## Figures not drawn", ""] + [f"- {s}" for s in skipped]
    return lines + [""]


def build_report(
    root: str | Path,
    out_dir: str | Path | None = None,
    baseline: str = "random",
    figures: bool = True,
) -> Report:
    """The report of every experiment under `root`; with `out_dir`, written there as report.md
    beside every figure of `analysis.figures.FIGURES` the runs allow (`figures=False`: tables
    only)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        df = load_runs(root)
    lines = [f"# VAAL reproduction report: {root}", ""]
    if caught:
        lines += ["Run log warnings:", ""] + [f"- {w.message}" for w in caught] + [""]
    unhealthy = health_warnings(df)
    if unhealthy:
        lines += ["## Task model did not fit its labeled set", ""]
        lines += [f"warning: {w}" for w in unhealthy] + [""]
    chance = chance_warnings(df)
    if chance:
        lines += ["## VAAL discriminator at chance", ""]
        lines += [f"warning: {w}" for w in chance] + [""]
        lines += [
            "Why VAAL's discriminator ends at chance on the demo, and which settings move it "
            "off chance: see docs/vaal-anatomy.md.",
            "",
        ]
    above = topline_warnings(df)
    if above:
        lines += ["## Points above the top-line", ""]
        lines += [f"warning: {w}" for w in above] + [""]
        lines += [
            "A top-line below an active learner says its recipe is short: every fraction of the "
            "top-line read off these curves is then too high (`task.topline`, docs/protocols.md).",
            "",
        ]
    for _, exp in df.groupby("experiment", sort=True):
        lines += _experiment_section(exp, baseline)
    lines += _vaal_ablation_section(df)
    files: list[Path] = []
    if out_dir is not None:
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        if figures:
            drawn = draw_figures(df, root, out_dir)
            files += [f for d in drawn for f in d.files]
            lines += _figure_section(drawn, out_dir)
    text = "\n".join(lines).rstrip("\n") + "\n"
    if out_dir is not None:
        write_atomic(out_dir / REPORT_FILE, text.encode())
        files.insert(0, out_dir / REPORT_FILE)
    return Report(text, files)


def report(
    root: str | Path,
    out_dir: str | Path | None = None,
    baseline: str = "random",
    verbose: bool = True,
    figures: bool = True,
) -> str:
    """Markdown report of every experiment under `root` (see `build_report`); printed when
    `verbose`. With `out_dir`, report.md and the figures are written there."""
    text = build_report(root, out_dir, baseline, figures).text
    if verbose:
        print(text)
    return text
