"""Why VAAL selects at chance on the demo, and when it does not: a grid over the VAE-discriminator game.

Every cell is a set of ordinary runs (`python -m vaal_core run ... --set experiment=anatomy-<pool>-
<cell>`, one per seed) under `--out`, so a rerun skips the runs that are complete and resumes a
killed one where it stopped. The design is one factor at a time around the paper's setting (KL
summed over batch and latent units, beta 1, one epoch, adversary weight 1, latent 32, width 8, eval-
mode scoring), plus the interactions that matter: the KL weight x the training length (4 KL prices
x 2 lengths), the KL reduction x the adversary, the KL reduction x the scoring mode.

Two pools: the demo's (experiments/mnist.yaml, its pool and recipe, cut to 200 -> 600 labels: AUBC
against random, paired on seed) and a class-biased one (experiments/ablations/mnist_biased.yaml at 300 labeled from digits 0-4
of a 6,000 pool, one query of 300: the share of the query from the unseen digits 5-9). On the biased
pool only the first query is read, and VAAL never looks at the task model, so its task model trains
30 steps instead of 300 (the selection does not change; only the unused accuracy does).

    python benchmarks/vaal_anatomy.py --out results/anatomy          # 63 runs (31 min on 2 cores)
    python benchmarks/vaal_anatomy.py --out /tmp/anatomy-quick --quick    # corners, tiny sizes (<1 min)
    python benchmarks/vaal_anatomy.py --width paper   # the paper's VAE, 4 cells (results/anatomy-paper-width)

`--width paper` runs the cells that carry the page's findings (the paper's balance, KL averaged,
the adversary off, both) with the paper's VAE and discriminator (`PAPER_WIDTH`) on the biased pool,
and each beside a control at the grid's width 8 with the same length and precision: bf16 (this
CPU has AMX-BF16) and `PAPER_WIDTH_ITERATIONS` VAE iterations instead of one pass (47), because
one iteration of the paper's VAE costs about 40 s on one contended core here (docs/vaal-anatomy.md).

Writes `<out>/anatomy_table.md` (and .csv) and `<out>/anatomy.png/.pdf` (analysis/anatomy.py).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

# every run: one thread (two runs share two cores; more threads oversubscribe them) and a
# validation split, so that choices read the validation metric, never the test split
COMMON = ["runtime.num_threads=1", "dataset.val_size=500"]
POOLS = {
    # the demo's pool and schedule, cut to three cycles (200 -> 600 labels, two queries)
    "standard": ("experiments/mnist.yaml", ["active.cycles=3"]),
    "biased": (
        "experiments/ablations/mnist_biased.yaml",
        [
            "dataset.pool_size=6000",
            "active.initial=300",
            "active.budget=300",
            "active.cycles=2",
            "task.iterations=30",
        ],
    ),
}
QUICK = [
    "dataset.pool_size=600",
    "dataset.test_size=500",
    "dataset.val_size=100",
    "active.initial=40",
    "active.budget=40",
    "active.cycles=2",
    "task.iterations=10",
]

# the knobs of each cell, as --set overrides of the paper's setting
KL = {
    "paper": [],  # sum over batch and latent, beta 1: KL price beta*B = 128
    "beta1-16": ["vaal.beta=0.0625"],  # price 8
    "beta1-128": ["vaal.beta=0.0078125"],  # price 1
    "klmean": ["vaal.kl_reduction=mean"],  # price beta/d = 1/32
}
EP4 = ["vaal.epochs=4"]
OTHERS = {
    "adv0": ["vaal.adversary_param=0"],
    "klmean-adv0": KL["klmean"] + ["vaal.adversary_param=0"],
    "latent8": ["vaal.latent_dim=8"],
    "width16": ["vaal.width=16"],
    "trainscore": ["protocol.quirks=[train_mode_scoring]"],
    "klmean-trainscore": KL["klmean"] + ["protocol.quirks=[train_mode_scoring]"],
}


@dataclass(frozen=True)
class Run:
    pool: str
    cell: str
    strategy: str
    seed: int
    sets: tuple[str, ...] = field(default=())

    def experiment(self, prefix: str) -> str:
        return f"{prefix}-{self.pool}-{self.cell}"


# (pool, cell) in the order they run: the cells that answer the main questions first (the paper's
# setting, the KL price that un-collapses the VAE, each against random on both pools), so that a
# grid cut short still tells its story; then one factor at a time; then the rest of KL x length
TIERS = [
    [("biased", "random"), ("biased", "paper"), ("biased", "klmean")],
    [("standard", "random"), ("standard", "paper"), ("standard", "klmean")],
    [("biased", c) for c in ("klmean-adv0", "adv0", "paper-ep4", "klmean-ep4", "trainscore")],
    [("standard", c) for c in ("klmean-adv0", "trainscore")],
    [("biased", c) for c in ("beta1-128", "beta1-16", "beta1-128-ep4", "klmean-trainscore")],
    [("biased", c) for c in ("latent8", "beta1-16-ep4", "width16")],
    [("standard", "klmean-ep4")],
]


# the paper's VAE and discriminator as the `paper` protocol runs them: the schema's width 128
# (128-256-512-1024 channels), latent 32, and 4 hidden layers of 512 (vaal_core/spec/protocols.py);
# the grid's cells run width 8 (experiments/mnist.yaml) and 2 layers
PAPER_WIDTH = ["vaal.width=128", "vaal.disc_layers=4"]
PAPER_WIDTH_CELLS = ("paper", "klmean-adv0", "adv0", "klmean")
PAPER_WIDTH_ITERATIONS = 8  # of the 47 of one pass over the biased pool: the CPU's limit, stated
# epochs giving that many iterations: ceil(epochs * 6,000 / 128) (vaal_core/vaal/game.py)
PAPER_WIDTH_EPOCHS = round((PAPER_WIDTH_ITERATIONS - 0.5) * 128 / 6000, 6)
PAPER_WIDTH_SETS = ["runtime.precision=bf16", f"vaal.epochs={PAPER_WIDTH_EPOCHS}"]


def cells() -> dict[str, list[str]]:
    """Every cell's --set overrides of the paper's setting."""
    out = {"random": []} | dict(KL) | {f"{name}-ep4": sets + EP4 for name, sets in KL.items()}
    return out | OTHERS


def grid(seeds: list[int]) -> list[Run]:
    """The design, tier after tier (`TIERS`), every seed of a cell together."""
    sets = cells()
    return [
        Run(pool, cell, "random" if cell == "random" else "vaal", s, tuple(sets[cell]))
        for tier in TIERS
        for pool, cell in tier
        for s in seeds
    ]


def paper_width_grid(seeds: list[int]) -> list[Run]:
    """The paper's balance and the one clear gain (KL averaged, adversary off) first, every seed,
    then the adversary off and KL averaged: a set cut short still has its main comparison. Per
    seed: random, the width-8 controls (cheap), then the paper-width cells, both widths at the
    same length and precision."""
    sets = cells()
    runs = []
    for tier in (PAPER_WIDTH_CELLS[:2], PAPER_WIDTH_CELLS[2:]):
        for s in seeds:
            if tier == PAPER_WIDTH_CELLS[:2]:
                runs.append(Run("biased", "random", "random", s))
            for width, suffix in (
                (["vaal.width=8", "vaal.disc_layers=2"], "-w8"),
                (PAPER_WIDTH, ""),
            ):
                for cell in tier:
                    knobs = tuple(sets[cell] + width + PAPER_WIDTH_SETS)
                    runs.append(Run("biased", cell + suffix, "vaal", s, knobs))
    return runs


def quick_grid() -> list[Run]:
    """The corners: the paper's KL price at one epoch and the lowest price at four, both pools."""
    corners = {"paper": KL["paper"], "klmean-ep4": KL["klmean"] + EP4}
    return [
        run
        for pool in ("biased", "standard")
        for run in [Run(pool, "random", "random", 0)]
        + [Run(pool, c, "vaal", 0, tuple(v)) for c, v in corners.items()]
    ]


def command(run: Run, prefix: str, out: Path, quick: bool) -> list[str]:
    spec, pool_sets = POOLS[run.pool]
    sets = COMMON + pool_sets + (QUICK if quick else []) + list(run.sets)
    sets.append(f"experiment={run.experiment(prefix)}")
    cmd = [sys.executable, "-m", "vaal_core", "run", spec, "--strategy", run.strategy]
    cmd += ["--seed", str(run.seed), "--out", str(out), "--no-progress"]
    for s in sets:
        cmd += ["--set", s]
    return cmd


def expected_cycles(run: Run, quick: bool) -> int:
    """active.cycles as the run's overrides (last wins) or its spec file set it."""
    spec, pool_sets = POOLS[run.pool]
    for item in reversed(COMMON + pool_sets + (QUICK if quick else []) + list(run.sets)):
        if item.startswith("active.cycles="):
            return int(item.split("=", 1)[1])
    import yaml

    return int(yaml.safe_load((REPO / spec).read_text())["active"]["cycles"])


def complete(run: Run, prefix: str, out: Path, quick: bool) -> bool:
    path = out / run.experiment(prefix) / run.strategy / f"seed-{run.seed}" / "cycles.jsonl"
    if not path.exists():
        return False
    lines = [ln for ln in path.read_text().split("\n") if ln.strip()]
    return len(lines) >= expected_cycles(run, quick)


def execute(run: Run, prefix: str, out: Path, quick: bool, logs: Path) -> tuple[int, float]:
    log = logs / f"{run.experiment(prefix)}-{run.strategy}-seed{run.seed}.log"
    t0 = time.perf_counter()
    with log.open("w") as fh:
        rc = subprocess.call(command(run, prefix, out, quick), cwd=REPO, stdout=fh, stderr=fh)
    return rc, time.perf_counter() - t0


def run_grid(runs: list[Run], prefix: str, out: Path, quick: bool, jobs: int) -> list[str]:
    """Run what is not complete, `jobs` at a time; one line per run; returns the failures."""
    logs = out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    todo = [r for r in runs if not complete(r, prefix, out, quick)]
    print(f"{len(runs)} runs in the design, {len(runs) - len(todo)} complete, {len(todo)} to run")
    failures, done = [], 0

    def one(run: Run) -> None:
        nonlocal done
        rc, secs = execute(run, prefix, out, quick, logs)
        done += 1
        what = f"{run.experiment(prefix)} {run.strategy} seed {run.seed}"
        status = "ok" if rc == 0 else f"FAILED (exit {rc}, see {logs})"
        print(f"[{done}/{len(todo)}] {what}: {status} in {secs:.0f}s", flush=True)
        if rc != 0:
            failures.append(what)

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        list(pool.map(one, todo))
    return failures


def summarise(out: Path, prefix: str) -> tuple[object, list[Path]]:
    from analysis.anatomy import anatomy_table, draw_anatomy, markdown_table

    table = anatomy_table(out, prefix=prefix)
    (out / "anatomy_table.md").write_text(markdown_table(table))
    table.to_csv(out / "anatomy_table.csv", index=False)
    return table, draw_anatomy(table, out / "anatomy")


def check_quick(table, figures: list[Path], n_cells: int) -> list[str]:
    """What a --quick run must have produced: every cell, finite and meaningful numbers."""
    problems = []
    if len(table) != n_cells:
        problems.append(f"{len(table)} table rows, expected {n_cells}")
    for _, r in table.iterrows():
        if not 0 <= r.disc_auc <= 1 or not r.vae_recon > 0 or not 0 <= r.active_units <= r.latent:
            problems.append(f"{r.experiment}: AUC/recon/active units out of range")
        if r.pool == "biased" and not 0 <= r.get("unseen_vaal", -1) <= 1:
            problems.append(f"{r.experiment}: no unseen-class share")
        if r.pool == "standard" and not abs(r.daubc_test) < 1:
            problems.append(f"{r.experiment}: no AUBC difference with random")
    problems += [
        f"{p} missing or empty" for p in figures if not p.exists() or p.stat().st_size < 1000
    ]
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=REPO / "results" / "anatomy")
    ap.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (default 0,1,2)")
    ap.add_argument("--jobs", type=int, default=2, help="runs at a time (one thread each)")
    ap.add_argument("--quick", action="store_true", help="seed 0, the grid's corners, tiny sizes")
    ap.add_argument(
        "--width",
        choices=("grid", "paper"),
        default="grid",
        help="grid: the width-8 grid; paper: 4 cells with the paper's VAE, beside width-8 controls "
        "(default --out results/anatomy-paper-width)",
    )
    args = ap.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    if args.width == "paper":
        if args.quick:
            print(
                "error: --quick runs the width-8 grid's corners; drop --width paper",
                file=sys.stderr,
            )
            return 2
        prefix, runs = "paperwidth-anatomy", paper_width_grid(seeds)
        if args.out == REPO / "results" / "anatomy":
            args.out = REPO / "results" / "anatomy-paper-width"
    else:
        prefix = "quick-anatomy" if args.quick else "anatomy"
        runs = quick_grid() if args.quick else grid(seeds)
    out = args.out.resolve()
    t0 = time.perf_counter()
    failures = run_grid(runs, prefix, out, args.quick, args.jobs)
    print(f"grid wall time {time.perf_counter() - t0:.0f}s")
    table, figures = summarise(out, prefix)
    print((out / "anatomy_table.md").read_text())
    print("wrote", out / "anatomy_table.md", *figures)
    if failures:
        print(f"error: {len(failures)} run(s) failed: {'; '.join(failures)}", file=sys.stderr)
        return 2
    if args.quick:
        n_cells = len({(r.pool, r.cell) for r in runs if r.strategy == "vaal"})
        problems = check_quick(table, figures, n_cells)
        if problems:
            print("error: quick check failed: " + "; ".join(problems), file=sys.stderr)
            return 2
        print("quick check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
