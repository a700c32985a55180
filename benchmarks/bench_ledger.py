"""The ledger's "measured effect" column: each quirk or deviation switched on alone, at demo scale.

For every row, the demo spec (experiments/mnist.yaml, shortened by `--cycles`, with a validation
split so that the release's validation-time quirks have something to act on) runs under the
corrected setting and under the switch, for the same seeds; the table gives the AUBC difference
(switch - corrected, accuracy points) paired on seed with a paired t-test, and, for VAAL rows, the
discriminator's ROC-AUC (held-out where the setting holds images out, else in-sample: marked) and
the VAE's active latent units, averaged over the queries of every run.

    python benchmarks/bench_ledger.py                       # every row, 3 seeds (long: see README)
    python benchmarks/bench_ledger.py --rows kl_mean,init   # some rows
    python benchmarks/bench_ledger.py --quick               # tiny setting (CI)

Runs go to `--out` (default results_ledger/, apart from the demo's results/) as ordinary run directories, so an interrupted
measurement resumes where it stopped and the table can be reprinted without rerunning.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


@dataclass(frozen=True)
class Row:
    name: str
    strategy: str
    switch: tuple[str, ...]  # --set overrides that turn the quirk on
    what: str
    # the preset both sides run under (None: the demo spec's own, the corrected setting)
    protocol: str | None = None
    # --set overrides of both sides (where the demo spec has no lever for the switch)
    common: tuple[str, ...] = ()

    @property
    def base_tag(self) -> str:
        parts = ["base", *(p.split("=")[0].split(".")[-1] for p in self.common)]
        return "_".join([*parts, *([self.protocol] if self.protocol else [])])

    def experiment(self, tag: str) -> str:
        """The experiment name load_spec gives a side (`@protocol` under another preset)."""
        return f"ledger_{tag}" + (f"@{self.protocol}" if self.protocol else "")


# the corrected base of every row: the demo spec plus a small validation split (the release keeps
# one, and its validation is where eval-mode training starts)
BASE = ["dataset.val_size=500"]
ROWS = [
    Row(
        "eval_mode_training",
        "random",
        ("protocol.quirks=[eval_mode_training]",),
        "task model trains in eval mode after its first validation (67263f3)",
    ),
    Row("vae_input_unit", "vaal", ("vaal.input_range=unit",), "VAE fed [0, 1] (395da2e)"),
    Row(
        "vae_input_symmetric", "vaal", ("vaal.input_range=symmetric",), "VAE fed [-1, 1] (67263f3)"
    ),
    Row("kl_mean", "vaal", ("vaal.kl_reduction=mean",), "KL averaged instead of summed"),
    Row(
        "train_mode_scoring_flips",
        "vaal",
        ("protocol.quirks=[train_mode_scoring,flip_when_scoring]",),
        "VAE/discriminator score the pool in train mode with random flips (both commits)",
    ),
    Row(
        "disc_layers_4",
        "vaal",
        ("vaal.disc_layers=4",),
        "the paper-era 4-hidden-layer discriminator",
    ),
    Row("original_init", "vaal", ("vaal.init=original",), "the original's initialisation"),
    Row(
        "no_vaal_holdout",
        "vaal",
        ("protocol.quirks=[no_vaal_holdout]",),
        "VAAL trains on every image (no diagnostics hold-out)",
    ),
    Row(
        "vaal_lr_decay",
        "vaal",
        ("vaal.lr_step_fraction=0.04", "vaal.lr_gamma=0.9"),
        "VAE/discriminator lr x0.9 every 1/25 of the iterations (395da2e)",
    ),
    # the release validates every 1,000 of 39,062 steps; the same fraction of the demo's 300 is 8
    Row(
        "val_every_scaled",
        "random",
        ("task.val_every=8",),
        "validation every 1,000/39,062 of the steps, best kept (67263f3), scaled: every 8 of 300",
    ),
    # the demo's 64-image batches leave 200 % 64 = 8 labeled images out of each pass
    Row(
        "drop_last",
        "vaal",
        ("protocol.quirks=[drop_last]",),
        "labeled loader drop_last=True: task model and VAAL's labeled stream (both commits)",
    ),
    # the demo starts from active.initial = active.budget, so both sides start from 2 x budget;
    # the switch starts from `budget` images, as 395da2e did (half the initial set)
    Row(
        "initial_size_budget",
        "random",
        ("protocol.initial_size=budget",),
        "initial set of `budget` images instead of active.initial (395da2e main.py:61)",
        common=("active.initial=400",),
    ),
    # both sides under `paper`, whose fixed length the demo spec sets (300 steps per cycle); the
    # switch follows the first author's account (sinhasam/vaal#7, f014579): 100 epochs of the
    # labeled set, 400 steps at 200 labels and 1,300 at 800 (VAAL trains as many)
    Row(
        "paper_100_epochs",
        "random",
        ("task.iterations=null", "task.epochs=100", "task.epoch_basis=labeled"),
        "100 epochs of the labeled set (f014579) instead of fixed iterations, under paper",
        protocol="paper",
    ),
    # both sides under release-exact (fp32 forced there); the switch computes in bf16 autocast
    Row(
        "bf16_release_exact",
        "vaal",
        ("runtime.precision=bf16",),
        "bf16 autocast instead of the originals' fp32, under release-exact",
        protocol="release-exact",
        common=("runtime.precision=fp32",),
    ),
]
QUICK = [
    "dataset.pool_size=600",
    "dataset.test_size=500",
    "dataset.val_size=100",
    "active.initial=40",
    "active.budget=40",
    "task.iterations=20",
    "vaal.epochs=0.3",
]


def run_all(rows: list[Row], seeds: list[int], cycles: int, out: Path, extra: list[str]) -> None:
    from vaal_core.run.loop import ActiveLoop
    from vaal_core.spec import load_spec

    common = BASE + extra + [f"active.cycles={cycles}"]
    for row in rows:
        for tag, sets in ((row.base_tag, []), (row.name, list(row.switch))):
            spec = load_spec(
                "experiments/mnist.yaml",
                [*common, *row.common, *sets, f"experiment=ledger_{tag}"],
                protocol=row.protocol,
            )
            for seed in seeds:
                # wait: a second measurement process may hold a run (e.g. the shared base)
                ActiveLoop(spec, row.strategy, seed, out, progress=False, wait=True).run()


def _vaal_numbers(df, experiment: str) -> tuple[str, str]:
    """Mean discriminator ROC-AUC (held-out if any, else in-sample) and active latent units."""
    runs = df[(df["experiment"] == experiment) & (df["strategy"] == "vaal")]
    if "qs_disc_auc_train" not in runs or runs["qs_disc_auc_train"].isna().all():
        return "-", "-"
    held = runs.get("qs_disc_auc")
    if held is not None and held.notna().any():
        auc = f"{held.mean():.3f}"
    else:
        auc = f"{runs['qs_disc_auc_train'].mean():.3f} (in-sample)"
    units = f"{runs['qs_active_units'].mean():.1f}/{int(runs['qs_latent_dim'].max())}"
    return auc, units


def table(rows: list[Row], out: Path) -> list[str]:
    from analysis import aubc, load_runs, paired_test

    df = load_runs(out)
    per_run = aubc(df)
    per_run = per_run[per_run["complete"]]  # a run cut short has no comparable area
    lines = [
        "| row | strategy | what | seeds | AUBC corrected | AUBC switched | diff (points) | "
        "paired t p | disc AUC corrected -> switched | active units corrected -> switched |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        pick = per_run[per_run["strategy"] == row.strategy]
        exp_base, exp_var = row.experiment(row.base_tag), row.experiment(row.name)
        base = pick[pick["experiment"] == exp_base].set_index("seed")["aubc"]
        var = pick[pick["experiment"] == exp_var].set_index("seed")["aubc"]
        seeds = sorted(set(base.index) & set(var.index))
        if not seeds:
            lines.append(f"| {row.name} | {row.strategy} | {row.what} | 0 | not run |||||")
            continue
        a, b = 100 * var.loc[seeds].to_numpy(), 100 * base.loc[seeds].to_numpy()
        t = paired_test(a, b)
        auc0, units0 = _vaal_numbers(df, exp_base)
        auc1, units1 = _vaal_numbers(df, exp_var)
        p = "n/a" if np.isnan(t["p_ttest"]) else f"{t['p_ttest']:.3f}"
        lines.append(
            f"| {row.name} | {row.strategy} | {row.what} | {len(seeds)} | {b.mean():.2f} | "
            f"{a.mean():.2f} | {t['mean_diff']:+.2f} ± {t['sd_diff']:.2f} | {p} | "
            + (
                f"{auc0} -> {auc1} | {units0} -> {units1} |"
                if row.strategy == "vaal"
                else "- | - |"
            )
        )
    return lines


def overlaps(rows: list[Row], out: Path) -> list[str]:
    """Per row and seed: the share of each cycle's picks that both sides picked, and the final
    test accuracy of both (runs with the same seed start from the same labeled set)."""
    import json

    lines = ["| row | seed | picks shared per cycle | final accuracy corrected -> switched |"]
    lines.append("|---|---|---|---|")
    for row in rows:
        dirs = [out / row.experiment(t) / row.strategy for t in (row.base_tag, row.name)]
        seeds = sorted(
            {p.name for p in dirs[0].glob("seed-*")} & {p.name for p in dirs[1].glob("seed-*")}
        )
        for seed in seeds:
            a, b = (d / seed for d in dirs)
            shared = []
            for c in range(1, 100):
                if not ((a / f"pool-{c}.npy").exists() and (b / f"pool-{c}.npy").exists()):
                    break
                picks = [
                    np.setdiff1d(np.load(r / f"pool-{c}.npy"), np.load(r / f"pool-{c - 1}.npy"))
                    for r in (a, b)
                ]
                both = len(np.intersect1d(*picks))
                shared.append(f"{both / max(1, len(picks[0])):.0%}")
            accs = [
                json.loads((r / "cycles.jsonl").read_text().splitlines()[-1])["value"]
                for r in (a, b)
            ]
            lines.append(
                f"| {row.name} | {seed} | {', '.join(shared)} | "
                f"{100 * accs[0]:.2f} -> {100 * accs[1]:.2f} |"
            )
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--rows", default=None, help=f"comma-separated; default all: {[r.name for r in ROWS]}"
    )
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--cycles", type=int, default=4)
    p.add_argument("--out", default="results_ledger")
    p.add_argument("--quick", action="store_true", help="tiny setting for CI (2 seeds, 2 cycles)")
    p.add_argument("--table-only", action="store_true", help="print the table of runs already made")
    p.add_argument(
        "--set",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="more spec overrides for every run (a smaller setting: use its own --out)",
    )
    args = p.parse_args(argv)
    names = args.rows.split(",") if args.rows else [r.name for r in ROWS]
    unknown = sorted(set(names) - {r.name for r in ROWS})
    if unknown:
        print(
            f"error: unknown ledger rows {unknown}; valid: {[r.name for r in ROWS]}",
            file=sys.stderr,
        )
        return 2
    rows = [r for r in ROWS if r.name in names]
    seeds = list(range(2 if args.quick else args.seeds))
    cycles = 2 if args.quick else args.cycles
    if not args.table_only:
        run_all(rows, seeds, cycles, Path(args.out), (QUICK if args.quick else []) + args.set)
    from vaal_core.train.device import cpu_model_name

    print(
        f"\nledger effects: experiments/mnist.yaml{' (quick)' if args.quick else ''}"
        f"{' --set ' + ' '.join(args.set) if args.set else ''}, "
        f"{cycles} cycles, seeds {seeds}; CPU: {cpu_model_name()}\n"
    )
    print("\n".join(table(rows, Path(args.out))))
    print()
    print("\n".join(overlaps(rows, Path(args.out))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
