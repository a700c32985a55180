"""The paper's ablations as figures: each family (noisy oracle, budget size, biased initial pool,
VAAL's own parts) drawn against the same dataset's runs without ablation (dashed).

Ablations are experiments named `ablation_<kind>_<dataset>` (see `load_runs`' `ablation`).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .canvas import Captioned, NoFigure, band_line, captioned_figure, new_figure
from .curves import X, Y, draw_runs, label_axes, not_ablation, with_percent
from .expected import ABLATION_FAMILIES, PAPER_SEEDS, reproduce_command
from .reference import dataset_key
from .runs import ablation_kind
from .specs import shipped_specs
from .stats import TOPLINE
from .style import dataset_name

__all__ = ["ablation_figure", "ablation_commands", "VARIANT_NAMES", "VARIANT_COLORS"]

# VAAL's own variants: colours no strategy or marker uses
VARIANT_COLORS = ["#6b6ecf", "#b5cf6b", "#e7ba52", "#ad494a", "#a55194", "#3182bd"]
VARIANT_NAMES = {
    "noadv": "VAAL, adversary off (adversary_param 0)",
    "fixedvae": "VAAL, fixed VAE",
    "klmean": "VAAL, KL averaged (mean)",
}


def _noise_rate(runs: pd.DataFrame) -> str:
    """Measured share of oracle labels flipped over the queries of these runs."""
    if "label_noise_flipped" not in runs:
        return ""
    flipped = runs["label_noise_flipped"].map(lambda x: len(x) if isinstance(x, list) else 0)
    asked = pd.to_numeric(runs["n_selected"], errors="coerce").fillna(0)
    if runs["label_noise_flipped"].map(lambda x: isinstance(x, list)).any() and asked.sum():
        return f"{100 * flipped.sum() / asked.sum():.1f}% of queried labels flipped"
    return ""


def ablation_commands(family: str) -> list[str]:
    """The make targets of the shipped specs of one ablation family."""
    fam = ABLATION_FAMILIES[family]
    return [
        s.command
        for s in shipped_specs()
        if s.is_ablation and fam.matches(ablation_kind(s.experiment, s.dataset))
    ]


def family_runs(runs: pd.DataFrame, family: str) -> pd.DataFrame:
    fam = ABLATION_FAMILIES[family]
    if "ablation" not in runs:
        return runs.iloc[:0]
    return runs[runs["ablation"].map(fam.matches).astype(bool) & (runs["strategy"] != TOPLINE)]


def _missing(abl: pd.DataFrame, base: pd.DataFrame, family: str) -> list[str]:
    """Variants not run and strategies short of the paper's seeds, on the datasets ablated so far,
    with a shipped spec of this family, or with main runs."""
    fam = ABLATION_FAMILIES[family]
    shipped = {
        s.dataset for s in shipped_specs() if fam.matches(ablation_kind(s.experiment, s.dataset))
    }
    datasets = sorted(set(abl["dataset"]) | shipped | set(base["dataset"])) or ["<dataset>"]
    missing = []
    for kind in fam.kinds:
        for dataset in datasets:
            got = abl[(abl["ablation"] == kind) & (abl["dataset"] == dataset)]
            exp = f"ablation_{kind}_{dataset_key(dataset) if dataset != '<dataset>' else dataset}"
            if got.empty:
                how = reproduce_command(exp)
                missing.append(f"{exp}: not run ({f'`{how}`' if how.startswith('make ') else how})")
                continue
            for strategy in fam.strategies:
                n = got.loc[got["complete"] & (got["strategy"] == strategy), "seed"].nunique()
                if n < PAPER_SEEDS:
                    missing.append(f"{exp}: {strategy} has {n}/{PAPER_SEEDS} complete seeds")
    return missing


def ablation_figure(
    runs: pd.DataFrame,
    family: str,
    root: str | Path = "results",
    out: str | Path | None = None,
) -> Captioned:
    """One ablation family (`noise`, `budget`, `biased`, `vaal`) against the same dataset's runs
    without ablation (dashed), with a caption naming the variants and strategies still missing.

    Raises NoFigure, naming the make targets of the family, when none of its runs exist.
    """
    if family not in ABLATION_FAMILIES:
        raise ValueError(
            f"unknown ablation family {family!r}; choose one of {sorted(ABLATION_FAMILIES)}"
        )
    fam = ABLATION_FAMILIES[family]
    abl = with_percent(family_runs(runs, family))
    base = with_percent(not_ablation(runs[runs["strategy"] != TOPLINE]))
    if abl.empty:
        commands = ", ".join(f"`{c}`" for c in ablation_commands(family)) or "a shipped spec"
        raise NoFigure(f"no {fam.title.lower()} runs under {root}: run {commands}")
    if fam.per_variant:
        panels = [(d, None) for d in sorted(abl["dataset"].unique())]
    else:
        pairs = abl[["dataset", "ablation"]].drop_duplicates().itertuples(index=False)
        panels = [(d, k) for d, k in sorted(pairs)]
    fig, axes = new_figure(len(panels))
    notes, missing = [], []
    for ax, (dataset, kind) in zip(axes, panels, strict=True):
        mine = abl[abl["dataset"] == dataset]
        if kind is not None:
            mine = mine[mine["ablation"] == kind]
        ref = base[base["dataset"] == dataset]
        same_protocol = ref["protocol"].isin(mine["protocol"])
        ref = ref[same_protocol] if same_protocol.any() else ref
        counts: list[int] = []
        if fam.per_variant:
            for i, variant in enumerate(sorted(mine["ablation"].unique())):
                counts += band_line(
                    ax,
                    mine[(mine["ablation"] == variant) & (mine["strategy"] == "vaal")],
                    X,
                    Y,
                    VARIANT_NAMES.get(variant, variant),
                    VARIANT_COLORS[i % len(VARIANT_COLORS)],
                )
            ref = ref[ref["strategy"].isin(["vaal", "random"])]
        else:
            counts += draw_runs(ax, mine)
            ref = ref[ref["strategy"].isin(mine["strategy"])]
            rate = _noise_rate(mine)
            if rate:
                notes.append(f"{kind} on {dataset_name(dataset)}: {rate}.")
        counts += draw_runs(ax, ref, linestyle="--", suffix=" (no ablation)")
        if ref.empty:
            missing.append(f"{dataset_name(dataset)}: no runs without ablation to compare with")
        what = kind if kind is not None else fam.title.split(" (")[0]
        label_axes(ax, f"{what}: {dataset_name(dataset)}", mine, counts)
    missing += _missing(abl, base, family)
    body = [
        "Solid: ablation runs; dashed: the same dataset without ablation;",
        "shaded band as the legend says.",
        " ".join(notes),
        "The paper's ablation numbers are not in analysis/reference_data.",
    ]
    return captioned_figure(fig, f"Ablation: {fam.title}", body, missing, out)
