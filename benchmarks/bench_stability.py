"""Is the task learner stable? Retrain fixed labeled sets with many training seeds.

A strategy comparison measures selection only if the same labeled set trains to (nearly) the same
accuracy whatever the training seed. This takes the labeled sets that one active-learning run of
`random` and one of a strategy (default `coreset`) reach at the first queried budget and at the
last, retrains the spec's task recipe on each with `--train-seeds` seeds (model init and batch
order; the labeled set and the test set fixed) and prints mean, std and min test metric per set,
against the stability targets: std <= 0.5 points and min >= mean - 1.5 points.

    python benchmarks/bench_stability.py                       # the demo spec, 10 seeds (minutes)
    python benchmarks/bench_stability.py --quick               # tiny setting, CI
    python benchmarks/bench_stability.py --set task.lr=0.1     # try another recipe
    python benchmarks/bench_stability.py --check-runs results/demo_mnist   # cycle-to-cycle drops

`--check-runs` reads finished runs instead and prints, per run, the largest fall of the metric
from one cycle to the next (target: no run falls more than 2 points).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# a tiny setting for CI: the real demo data and recipe shape, a fraction of the work
QUICK = [
    "dataset.pool_size=600",
    "dataset.test_size=500",
    "active.initial=40",
    "active.budget=40",
    "active.cycles=2",
    "task.iterations=30",
    "vaal.epochs=0.2",
]
TARGET_STD, TARGET_MIN_GAP, TARGET_DROP = 0.5, 1.5, 2.0  # points: the stability targets


def labeled_sets(spec, strategy: str, out: Path, data_root) -> dict[str, tuple[int, np.ndarray]]:
    """{"<strategy> @<n>": (cycle, labeled indices)} at the first queried and the last cycle of
    one seed-0 run of `random` and of `strategy` (run here, into `out`)."""
    from vaal_core.run.loop import ActiveLoop
    from vaal_core.run.rundir import RunDir

    sets = {}
    last = spec.active.cycles - 1
    for name in dict.fromkeys(["random", strategy]):
        loop = ActiveLoop(spec, name, 0, out, data_root, progress=False)
        loop.run()
        run = RunDir(loop.run_dir.path)
        for cycle in sorted({min(1, last), last}):
            idx = run.load_pool(cycle)
            sets[f"{name} @{len(idx)}"] = (cycle, idx)
    return sets


def retrain(spec, cycle: int, labeled: np.ndarray, seeds: list[int], out: Path, data_root):
    """Test metric of the spec's task recipe trained on `labeled` once per training seed."""
    from vaal_core.run.loop import ActiveLoop
    from vaal_core.train.batches import batches_from_spec
    from vaal_core.train.trainer import evaluate

    values, fits = [], []
    batches = val = None
    for seed in seeds:
        loop = ActiveLoop(spec, "random", seed, out, data_root, progress=False)
        if batches is None:  # the data and its splits do not depend on the training seed
            data, _, val = loop._data_and_splits()
            batches = batches_from_spec(spec, data, loop.device)  # the loop's own factory
        model, _ = loop._train(cycle, batches, labeled, val, None)
        values.append(100 * evaluate(model, batches, spec.task, spec.runtime))
        fits.append(100 * evaluate(model, batches, spec.task, spec.runtime, labeled, "train"))
    return np.array(values), np.array(fits)


def stability_table(spec, strategy: str, seeds: list[int], data_root) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, (cycle, idx) in labeled_sets(
            spec, strategy, Path(tmp) / "runs", data_root
        ).items():
            t0 = time.perf_counter()
            v, fit = retrain(spec, cycle, idx, seeds, Path(tmp) / "retrain", data_root)
            mean, std = float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0
            rows.append(
                {
                    "set": name,
                    "n": len(idx),
                    "seeds": len(v),
                    "mean": mean,
                    "std": std,
                    "min": float(v.min()),
                    "max": float(v.max()),
                    "fit_min": float(fit.min()),
                    "std_ok": std <= TARGET_STD,
                    "min_ok": float(v.min()) >= mean - TARGET_MIN_GAP,
                    "values": [round(float(x), 2) for x in v],
                    "seconds": time.perf_counter() - t0,
                }
            )
    return rows


def largest_drops(root: Path) -> list[tuple[str, int | str, float, int]]:
    """(strategy/seed, cycle, fall in points, cycles) per run under an experiment directory."""
    out = []
    for log in sorted(root.glob("*/seed-*/cycles.jsonl")):
        recs = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
        vals = [100 * r["value"] for r in sorted(recs, key=lambda r: r["cycle"])]
        falls = [(a - b, c + 1) for c, (a, b) in enumerate(zip(vals[:-1], vals[1:], strict=True))]
        fall, at = max([f for f in falls if f[0] > 0], default=(0.0, "-"))  # "-": never fell
        out.append((f"{log.parent.parent.name}/{log.parent.name}", at, fall, len(vals)))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("spec", nargs="?", default="experiments/mnist.yaml")
    p.add_argument("--strategy", default="coreset", help="the strategy whose sets are retrained")
    p.add_argument("--train-seeds", type=int, default=10)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--quick", action="store_true", help="tiny setting (CI): 3 seeds, 600 images")
    p.add_argument("--data-root", default=None)
    p.add_argument("--json", default=None, help="also write the rows here")
    p.add_argument(
        "--check-runs",
        default=None,
        metavar="DIR",
        help="instead: largest cycle-to-cycle fall of each run under DIR",
    )
    args = p.parse_args(argv)

    from vaal_core.errors import ExpectedError
    from vaal_core.spec import load_spec
    from vaal_core.train.device import cpu_model_name

    if args.check_runs:
        drops = largest_drops(Path(args.check_runs))
        if not drops:
            print(
                f"error: no runs (*/seed-*/cycles.jsonl) under {args.check_runs}", file=sys.stderr
            )
            return 2
        print("| run | cycles | largest fall (points) | at cycle | <= 2 points |")
        print("|---|---|---|---|---|")
        for run, at, fall, n in drops:
            print(f"| {run} | {n} | {fall:.2f} | {at} | {'yes' if fall <= TARGET_DROP else 'NO'} |")
        return 0 if all(f <= TARGET_DROP for *_, f, _ in drops) else 1

    try:
        spec = load_spec(args.spec, (QUICK if args.quick else []) + args.set)
    except ExpectedError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    seeds = list(range(3 if args.quick and args.train_seeds == 10 else args.train_seeds))
    import torch

    torch.set_num_threads(spec.runtime.num_threads or torch.get_num_threads())
    t0 = time.perf_counter()
    rows = stability_table(spec, args.strategy, seeds, args.data_root)
    print(
        f"\ntask-learner stability: {args.spec}{' (quick)' if args.quick else ''}, "
        f"{len(seeds)} training seeds per set; CPU: {cpu_model_name()}, "
        f"{torch.get_num_threads()} threads, {time.perf_counter() - t0:.0f} s\n"
    )
    print(
        "| labeled set | n | mean | std | min | max | min fit on own set | std <= 0.5 | min >= mean-1.5 |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['set']} | {r['n']} | {r['mean']:.2f} | {r['std']:.2f} | {r['min']:.2f} | "
            f"{r['max']:.2f} | {r['fit_min']:.1f} | {'yes' if r['std_ok'] else 'NO'} | "
            f"{'yes' if r['min_ok'] else 'NO'} |"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
