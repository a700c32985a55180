"""The planner's prediction for the demo against the demo's recorded times, per strategy and part.

Predicted: `slurm.plan` for experiments/mnist.yaml at this CPU's rate, measured on the spot
(`--gpu cpu`: counted FLOPs of real training steps of the demo's task model over their time, one
thread, as each demo run uses). Measured: the `train_s` (training + evaluation + fit check) and
`query_s` of every cycle record of a finished demo under RESULTS (`make demo` or
`python -m vaal_core demo experiments/mnist.yaml --out RESULTS`), summed per run and averaged
over seeds. Both sides are taken on the same machine; the load is printed, because on a shared
machine the rate drifts between the measurement and the runs.

Usage: python benchmarks/plan_vs_demo.py RESULTS [--spec experiments/mnist.yaml]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main(argv: list[str] | None = None) -> int:
    import torch

    from slurm.plan import measured_cpu_rate, plan_experiment
    from vaal_core.plugins import load_plugins
    from vaal_core.run.loop import run_dir_for
    from vaal_core.run.runlog import read_records
    from vaal_core.spec import load_spec
    from vaal_core.train.device import cpu_model_name

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("results", type=Path)
    p.add_argument("--spec", default=str(REPO / "experiments" / "mnist.yaml"))
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    load_plugins()
    spec = load_spec(args.spec)
    plan = plan_experiment(spec, list(spec.strategies), list(spec.seeds))
    rate = measured_cpu_rate(spec)
    print(f"CPU: {cpu_model_name()}; rate: {rate.description}")
    print(
        "| strategy | part | predicted s per run | measured s per run (mean over seeds) | measured / predicted |"
    )
    print("|---|---|---:|---:|---:|")
    for run in plan.runs:
        measured = {"train": [], "query": []}
        for seed in spec.seeds:
            records = read_records(
                run_dir_for(args.results, spec, run.strategy, seed) / "cycles.jsonl"
            )
            if len(records) == len(run.cycles):
                measured["train"].append(sum(r["train_s"] for r in records))
                measured["query"].append(sum(r["query_s"] for r in records))
        predicted = {
            "train": run.seconds(rate, "train") + run.seconds(rate, "eval"),
            "query": sum(run.seconds(rate, q) for q in ("vaal", "score", "own")),
        }
        for part, label in (("train", "train + eval (`train_s`)"), ("query", "query (`query_s`)")):
            got = measured[part]
            if not got:
                print(f"| {run.strategy} | {label} | {predicted[part]:.1f} | no finished run | |")
                continue
            mean = sum(got) / len(got)
            ratio = f"{mean / predicted[part]:.2f}" if predicted[part] > 0 else "-"
            print(
                f"| {run.strategy} | {label} | {predicted[part]:.1f} | {mean:.1f} (n={len(got)}) | {ratio} |"
            )
    print(f"load now {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
