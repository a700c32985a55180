"""The anatomy of VAAL's VAE-discriminator game: one row per grid cell, one figure, read from runs.

A cell is one experiment of VAAL runs (several seeds) that changes some of VAAL's knobs; the
knobs are read back from each run's spec.yaml, so the table describes what ran, not what a
script meant to run. Each cell is set against `random` on the same pool (the runs of the
experiment named `<prefix>-<pool>-random`), paired on seed.

The VAE's loss (vaal_core/vaal/game.py `vae_loss`) is a per-pixel MSE averaged over B*C*H*W plus
beta * KL reduced over the batch and the latent units. Its exchange rate between the two terms,
`kl_price`, is the per-pixel MSE one nat of per-image KL costs: beta*B when the KL is summed,
beta/d when it is averaged. `beta_vae_equivalent` is the same rate against the per-image summed
squared error, the beta of a beta-VAE with a unit-variance Gaussian decoder (whose ELBO has 2).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from .canvas import new_figure, save_figure
from .runs import QS_PREFIX, load_runs
from .stats import aubc_diffs, band

__all__ = [
    "kl_price",
    "beta_vae_equivalent",
    "Knobs",
    "anatomy_table",
    "markdown_table",
    "draw_anatomy",
    "PAPER_KNOBS",
]


def kl_price(kl_reduction: str, beta: float, batch: int, latent: int) -> float:
    """Per-pixel MSE that one nat of per-image KL costs in `vae_loss`.

    sum:  MSE_mean + beta * sum_{b,j} KL_bj = MSE_mean + (beta * B) * mean_b KL_b
    mean: MSE_mean + beta * mean_{b,j} KL_bj = MSE_mean + (beta / d) * mean_b KL_b
    """
    return beta * batch if kl_reduction == "sum" else beta / latent


def beta_vae_equivalent(
    kl_reduction: str, beta: float, batch: int, latent: int, pixels: int
) -> float:
    """KL weight per unit of per-image summed squared error (C*H*W pixels): kl_price * pixels."""
    return kl_price(kl_reduction, beta, batch, latent) * pixels


@dataclass(frozen=True)
class Knobs:
    """The VAAL knobs the anatomy varies, as one run's spec.yaml resolved them."""

    pool: str  # "biased" (protocol.initial_classes set) or "standard"
    kl_reduction: str
    beta: float
    batch: int
    latent: int
    width: int
    epochs: float
    adversary: float
    scoring: str  # "eval" or "train" (the train_mode_scoring quirk)
    initial_classes: tuple[int, ...]  # the initial labeled set's classes (biased pool), else ()
    disc_layers: int = 2  # hidden layers of the discriminator (the paper's `paper` protocol: 4)
    precision: str = "fp32"  # runtime.precision (the paper-width cells: bf16)

    @property
    def price(self) -> float:
        return kl_price(self.kl_reduction, self.beta, self.batch, self.latent)


PAPER_KNOBS = dict(kl_reduction="sum", beta=1.0, epochs=1.0, adversary=1.0, scoring="eval")


def _knobs(run_dir: str | Path) -> Knobs:
    spec = yaml.safe_load((Path(run_dir) / "spec.yaml").read_text())
    v, proto = spec["vaal"], spec.get("protocol") or {}
    initial = tuple(int(c) for c in proto.get("initial_classes") or ())
    return Knobs(
        pool="biased" if initial else "standard",
        kl_reduction=v["kl_reduction"],
        beta=float(v["beta"]),
        batch=int(v["batch_size"]),
        latent=int(v["latent_dim"]),
        width=int(v["width"]),
        epochs=float(v["epochs"]),
        adversary=float(v["adversary_param"]),
        scoring="train" if "train_mode_scoring" in (proto.get("quirks") or []) else "eval",
        initial_classes=initial,
        disc_layers=int(v.get("disc_layers", 2)),
        precision=str((spec.get("runtime") or {}).get("precision", "fp32")),
    )


def _seed_means(vaal: pd.DataFrame) -> pd.DataFrame:
    """Per seed: the game's numbers averaged over the cycles that queried."""
    keys = ("active_units", "vae_recon", "disc_auc", "disc_auc_band", "disc_auc_train")
    cols = {k: QS_PREFIX + k for k in keys}
    q = vaal[vaal[cols["disc_auc"]].notna()] if cols["disc_auc"] in vaal else vaal.iloc[:0]
    out = pd.DataFrame({k: pd.to_numeric(q[c], errors="coerce") for k, c in cols.items()})
    out["seed"] = q["seed"]
    out["off_chance"] = (out["disc_auc"] - 0.5).abs() > out["disc_auc_band"]
    return out.groupby("seed").agg(
        active_units=("active_units", "mean"),
        vae_recon=("vae_recon", "mean"),
        disc_auc=("disc_auc", "mean"),
        disc_auc_band=("disc_auc_band", "mean"),
        disc_auc_train=("disc_auc_train", "mean"),
        off_chance=("off_chance", "sum"),
        queries=("disc_auc", "size"),
    )


def _unseen_share(runs: pd.DataFrame, initial: tuple[int, ...]) -> pd.Series:
    """Per seed: the share of the first query drawn from the classes the initial set lacked."""
    first = runs[runs["cycle"] == 0].dropna(subset=["selected_classes"])
    shares = {}
    for r in first.itertuples():
        h = np.asarray(r.selected_classes, dtype=float)
        unseen = [c for c in range(len(h)) if c not in initial]
        shares[r.seed] = h[unseen].sum() / h.sum() if h.sum() else np.nan
    return pd.Series(shares, dtype=float)


def _aubc_vs_random(vaal: pd.DataFrame, random: pd.DataFrame, column: str) -> dict[str, float]:
    """VAAL's AUBC minus random's on `column` ("value": test; "val_value": validation)."""
    if random.empty or column not in vaal or vaal[column].isna().all():
        return dict(mean=np.nan, lo=np.nan, hi=np.nan, n=0)
    both = pd.concat([vaal, random.assign(experiment=vaal["experiment"].iloc[0])])
    both = both.assign(value=both[column])
    d = aubc_diffs(both)
    d = d[d["strategy"] == "vaal"]
    if d.empty:
        return dict(mean=np.nan, lo=np.nan, hi=np.nan, n=0)
    r = d.iloc[0]
    return dict(mean=r.mean_diff, lo=r.ci_lo, hi=r.ci_hi, n=int(r.n_pairs))


def anatomy_table(root: str | Path, prefix: str = "anatomy") -> pd.DataFrame:
    """One row per VAAL cell under `root` (experiments named `<prefix>-<pool>-<cell>`).

    Intervals are 95% t-intervals over seeds (`stats.band`: +-1 std below 3 seeds); the AUBC
    differences are paired on seed with random of the same pool (`stats.aubc_diffs`), on the
    test metric and on the validation metric (the one to choose by).
    """
    df = load_runs(root)
    df = df[df["experiment"].str.startswith(prefix + "-")]
    rows = []
    for experiment, exp in df.groupby("experiment", sort=True):
        vaal = exp[(exp["strategy"] == "vaal") & exp["complete"]]
        if vaal.empty:
            continue
        k = _knobs(vaal["run_dir"].iloc[0])
        rand_exp = f"{prefix}-{k.pool}-random"
        random = df[(df["experiment"] == rand_exp) & (df["strategy"] == "random") & df["complete"]]
        per_seed = _seed_means(vaal)
        row = dict(
            experiment=experiment,
            cell=experiment.removeprefix(f"{prefix}-{k.pool}-"),
            **k.__dict__,
            kl_price=k.price,
            n_seeds=int(vaal["seed"].nunique()),
            seeds=",".join(str(s) for s in sorted(vaal["seed"].unique())),
            off_chance=int(per_seed["off_chance"].sum()),
            queries=int(per_seed["queries"].sum()),
        )
        for col in ("active_units", "vae_recon", "disc_auc", "disc_auc_band", "disc_auc_train"):
            m, lo, hi, _ = band(per_seed[col])
            row |= {col: m, f"{col}_lo": lo, f"{col}_hi": hi}
        if k.initial_classes:
            for who, runs in (("vaal", vaal), ("random", random)):
                m, lo, hi, _ = band(_unseen_share(runs, k.initial_classes))
                row |= {f"unseen_{who}": m, f"unseen_{who}_lo": lo, f"unseen_{who}_hi": hi}
        for tag, column in (("test", "value"), ("val", "val_value")):
            # the biased pool's task model is cut short on purpose (one query is read): no AUBC
            d = _aubc_vs_random(vaal, random if k.pool == "standard" else random.iloc[:0], column)
            row |= {f"daubc_{tag}": d["mean"], f"daubc_{tag}_lo": d["lo"]}
            row |= {f"daubc_{tag}_hi": d["hi"], "n_pairs": d["n"]}
        rows.append(row)
    return pd.DataFrame(rows)


def _ci(row: pd.Series, col: str, fmt: str = "{:.3f}", scale: float = 1.0) -> str:
    m = row.get(col, np.nan)
    if m is None or pd.isna(m):
        return "-"
    lo, hi = row.get(f"{col}_lo", np.nan), row.get(f"{col}_hi", np.nan)
    text = fmt.format(m * scale)
    if pd.notna(lo) and pd.notna(hi) and lo != hi:
        text += " [" + fmt.format(lo * scale) + ", " + fmt.format(hi * scale) + "]"
    return text


def _knob_text(r: pd.Series) -> str:
    parts = [f"KL {r.kl_reduction} β={r.beta:g}", f"ep {r.epochs:g}", f"adv {r.adversary:g}"]
    parts += [f"d {r.latent}", f"w {r.width}", f"{r.scoring} scoring"]
    # named only where they differ from the grid's (so its table reads as before)
    if r.get("disc_layers", 2) != 2:
        parts.append(f"disc {r.disc_layers} layers")
    if r.get("precision", "fp32") != "fp32":
        parts.append(r.precision)
    return ", ".join(parts)


def markdown_table(table: pd.DataFrame) -> str:
    """The table as markdown: one row per cell, means with their 95% intervals over seeds."""
    head = [
        "pool",
        "cell",
        "knobs",
        "KL price",
        "seeds",
        "active units",
        "recon MSE",
        "held-out AUC",
        "chance ±",
        "in-sample AUC",
        "off-chance queries",
        "unseen share: VAAL",
        "random",
        "ΔAUBC test (pts)",
        "ΔAUBC val (pts)",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for _, r in table.sort_values(
        ["pool", "kl_price", "epochs"], ascending=[False, False, True]
    ).iterrows():
        cells = [
            r.pool,
            r.cell,
            _knob_text(r),
            f"{r.kl_price:.3g}",
            str(r.n_seeds),
            _ci(r, "active_units", "{:.1f}"),
            _ci(r, "vae_recon"),
            _ci(r, "disc_auc"),
            f"{r.disc_auc_band:.3f}",
            _ci(r, "disc_auc_train"),
            f"{r.off_chance}/{r.queries}",
            _ci(r, "unseen_vaal", "{:.0f}%", 100),
            _ci(r, "unseen_random", "{:.0f}%", 100),
            _ci(r, "daubc_test", "{:+.2f}", 100),
            _ci(r, "daubc_val", "{:+.2f}", 100),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _kl_family(table: pd.DataFrame) -> pd.DataFrame:
    """Cells that differ from the paper's setting only in the KL weight and the training length.

    The latent size and width are the cells' most common ones (the grid's base setting).
    """
    p = PAPER_KNOBS
    keep = (table["adversary"] == p["adversary"]) & (table["scoring"] == p["scoring"])
    for col in ("latent", "width"):
        if len(table):
            keep &= table[col] == table[col].mode().iloc[0]
    return table[keep]


def draw_anatomy(table: pd.DataFrame, out: str | Path) -> list[Path]:
    """AUC, active units and the unseen-class share against the KL price, one line per
    training length (solid: biased pool, dashed: standard pool); writes `<out>.png/.pdf`."""
    fam = _kl_family(table)
    fig, axes = new_figure(3, width=4.6, height=3.6)
    panels = [
        ("disc_auc", "discriminator held-out ROC-AUC"),
        ("active_units", "active latent units"),
        ("unseen_vaal", "share of the first query from unseen classes"),
    ]
    colors = {}
    for (pool, epochs), g in fam.groupby(["pool", "epochs"], sort=True):
        g = g.sort_values("kl_price")
        color = colors.setdefault(epochs, f"C{len(colors)}")
        style, marker = ("-", "o") if pool == "biased" else ("--", "s")
        for ax, (col, _) in zip(axes, panels, strict=True):
            if col not in g or g[col].isna().all():
                continue
            err = np.vstack([g[col] - g[f"{col}_lo"], g[f"{col}_hi"] - g[col]]).clip(min=0)
            ax.errorbar(
                g["kl_price"],
                g[col],
                yerr=err,
                color=color,
                linestyle=style,
                marker=marker,
                markerfacecolor=color if pool == "biased" else "white",
                capsize=3,
                label=f"{pool} pool, {epochs:g} epoch{'s' if epochs != 1 else ''}",
            )
    base = _kl_family(table.assign(adversary=PAPER_KNOBS["adversary"]))
    off = base[(base["experiment"].isin(table[table["adversary"] == 0]["experiment"]))]
    for ax, (col, _) in zip(axes, panels, strict=True):  # the adversary switched off
        g = off[off["pool"] == "biased"]
        if len(g) and col in g and g[col].notna().any():
            ax.scatter(
                g["kl_price"],
                g[col],
                marker="*",
                s=120,
                color="k",
                zorder=3,
                label="biased pool, adversary weight 0",
            )
    if len(table):
        axes[1].set_ylim(-1, int(table["latent"].max()) + 1)
    band_half = table["disc_auc_band"].mean()
    if pd.notna(band_half):
        axes[0].axhspan(
            0.5 - band_half,
            0.5 + band_half,
            color="0.85",
            zorder=0,
            label=f"chance: 0.5 ± {band_half:.2f}",
        )
    if "unseen_random" in table and table["unseen_random"].notna().any():
        axes[2].axhline(table["unseen_random"].mean(), color="0.4", linestyle=":", label="random")
    for ax, (_, label) in zip(axes, panels, strict=True):
        ax.set_xscale("log")
        ax.set_xlabel("KL price: per-pixel MSE per nat of per-image KL")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    axes[2].legend(fontsize=7)
    return save_figure(fig, out)
