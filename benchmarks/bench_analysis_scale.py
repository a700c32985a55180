"""Analysis at sweep size: `python -m analysis report`, `export` and the figures notebook over
hundreds to thousands of run directories, timed, with peak memory, and how they grow.

The run directories are written by the suite's own writers, not by hand: `RunDir.claim` writes
spec.yaml, `RunDir.ensure_env` env.json (`runlog.environment_record`), and `RunDir.commit` appends
each `runlog.CycleRecord` to cycles.jsonl, for the paper's four classification specs (CIFAR-10,
CIFAR-100, Caltech-256, ImageNet) x six strategies x as many seeds as a size needs. Accuracies
are synthetic (a seeded curve per strategy plus noise), so the tests and figures have real work
to do; pool-<c>.npy files are not written (the analysis never reads them; the planner counts
their disk). Each command runs in its own process; its peak RSS is the largest `ru_maxrss` of
the processes it waited for (the notebook's kernel included).

Usage: nice -n 10 python benchmarks/bench_analysis_scale.py [--sizes 96,312,1008]
       [--root /tmp/vaal-bench-analysis]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SPECS = ("cifar10", "cifar100", "caltech256", "imagenet")
STRATEGIES = ("random", "vaal", "coreset", "mc_dropout", "dbal", "ensemble_varr")
GAIN = {"random": 0.0, "vaal": 0.6, "coreset": 0.4, "mc_dropout": 0.3, "dbal": 0.2}
CLASSES = {"cifar10": 10, "cifar100": 100, "caltech256": 256, "imagenet": 1000}
POOL = {"cifar10": 50_000, "cifar100": 50_000, "caltech256": 23_780, "imagenet": 1_281_167}


def _sha1(*parts: object) -> str:
    return hashlib.sha1(repr(parts).encode()).hexdigest()


def write_runs(root: Path, seeds: int) -> int:
    """len(SPECS) x len(STRATEGIES) x seeds run directories under root; returns how many."""
    from vaal_core.run.loop import run_dir_for
    from vaal_core.run.rundir import RunDir
    from vaal_core.run.runlog import CycleRecord, environment_record, git_revision
    from vaal_core.spec import load_spec

    env, rev, n = environment_record("cpu"), git_revision(), 0
    for name in SPECS:
        spec = load_spec(REPO / "experiments" / f"{name}.yaml")
        classes, pool, a = CLASSES[name], POOL[name], spec.active
        for strategy in STRATEGIES:
            for seed in range(seeds):
                rng = np.random.default_rng([SPECS.index(name), STRATEGIES.index(strategy), seed])
                rd = RunDir(run_dir_for(root, spec, strategy, seed))
                with rd.locked():
                    rd.claim(spec, strategy, seed)
                    rd.ensure_env(env, 0)
                    for c in range(a.cycles):
                        labeled = a.initial + c * a.budget
                        last = c == a.cycles - 1
                        acc = (
                            0.5
                            + 0.08 * np.log(labeled / a.initial + 1)
                            + 0.01 * GAIN.get(strategy, 0.1)
                        )
                        hist = rng.multinomial(a.budget, np.full(classes, 1 / classes)).tolist()
                        record = CycleRecord(
                            run_id=_sha1(name, strategy, seed),
                            experiment=spec.experiment,
                            dataset=spec.dataset.name,
                            strategy=strategy,
                            protocol=spec.protocol.name,
                            seed=seed,
                            spec_hash=spec.hash(),
                            git_rev=rev,
                            cycle=c,
                            n_labeled=labeled,
                            fraction=labeled / pool,
                            metric="accuracy",
                            value=float(acc + rng.normal(0, 0.005)),
                            train_s=float(rng.uniform(1000, 2000)),
                            query_s=0.0 if last else float(rng.uniform(10, 500)),
                            peak_mem_mb=float(rng.uniform(4000, 9000)),
                            labeled_sha1=_sha1(name, strategy, seed, "labeled", c),
                            n_selected=0 if last else a.budget,
                            selected_sha1=None if last else _sha1(name, strategy, seed, "sel", c),
                            precision=spec.runtime.precision,
                            device="cuda",
                            query_stats={} if last else {"select_s": float(rng.uniform(1, 9))},
                            selected_classes=None if last else hist,
                            train_loss=float(rng.uniform(0.01, 0.1)),
                            train_fit=float(rng.uniform(0.97, 1.0)),
                            train_fit_n=min(labeled, 10_000),
                            fit_ok=True,
                            nonfinite_losses=0,
                        )
                        rd.commit(record.as_record(), None, None)
                n += 1
    return n


TIMER = (
    "import resource, subprocess, sys, time\n"
    "t = time.perf_counter()\n"
    "r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)\n"
    "s = time.perf_counter() - t\n"
    "mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024\n"
    "print(f'{s} {mb} {r.returncode}')\n"
    "sys.stderr.write(r.stderr.decode()[-2000:] if r.returncode else '')\n"
)


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(seconds, peak RSS MB) of one command, in a fresh process; a failure stops the benchmark."""
    out = subprocess.run(
        [sys.executable, "-c", TIMER, *cmd], env=env, capture_output=True, text=True, cwd=REPO
    )
    seconds, mb, rc = out.stdout.split()
    if rc != "0":
        raise SystemExit(f"{' '.join(cmd)} failed (exit {rc}):\n{out.stderr}")
    return float(seconds), float(mb)


def main(argv: list[str] | None = None) -> int:
    from vaal_core.train.device import cpu_model_name

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="96,312,1008", help="run counts, multiples of 24")
    p.add_argument("--root", type=Path, default=Path("/tmp/vaal-bench-analysis"))
    args = p.parse_args(argv)
    per_seed = len(SPECS) * len(STRATEGIES)
    sizes = [int(s) for s in args.sizes.split(",")]
    py = sys.executable
    env = dict(os.environ, OMP_NUM_THREADS="1", MPLBACKEND="Agg")
    print(f"CPU: {cpu_model_name()}, {os.cpu_count()} cores; load at start {os.getloadavg()}")
    rows = []
    for size in sizes:
        seeds = -(-size // per_seed)
        root = args.root / f"runs-{size}"
        shutil.rmtree(args.root / f"out-{size}", ignore_errors=True)
        shutil.rmtree(root, ignore_errors=True)
        t = time.perf_counter()
        n = write_runs(root / "results", seeds)
        gen = time.perf_counter() - t
        res, out = str(root / "results"), args.root / f"out-{size}"
        report = timed([py, "-m", "analysis", "report", res, "--out", str(out / "report")], env)
        export = timed([py, "-m", "analysis", "export", res, "--out", str(out / "export")], env)
        figs = out / "figures"
        figs.mkdir(parents=True, exist_ok=True)
        nb_env = dict(env, RESULTS_DIR=res, FIGURES_DIR=str(figs))
        notebook = timed(
            [str(Path(py).parent / "jupyter"), "nbconvert", "--to", "notebook", "--execute",
             str(REPO / "plots" / "plots.ipynb"), "--output-dir", str(figs),
             "--output", "plots.executed.ipynb", "--ExecutePreprocessor.timeout=3600"],
            nb_env,
        )  # fmt: skip
        records = sum(1 for f in (root / "results").rglob("cycles.jsonl") for _ in f.open())
        rows.append((n, records, gen, report, export, notebook))
        print(
            f"{n} runs ({records} records, written in {gen:.0f} s): report {report[0]:.1f} s "
            f"{report[1]:.0f} MB; export {export[0]:.1f} s {export[1]:.0f} MB; figures notebook "
            f"{notebook[0]:.1f} s {notebook[1]:.0f} MB; load {os.getloadavg()[0]:.1f}",
            flush=True,
        )
    if len(rows) > 1:
        rows.sort()
        (n0, *_, r0, e0, f0), (n1, *_, r1, e1, f1) = rows[0], rows[-1]
        for name, a, b in (("report", r0, r1), ("export", e0, e1), ("figures", f0, f1)):
            k = np.log(b[0] / a[0]) / np.log(n1 / n0)
            print(f"{name}: time grows as runs^{k:.2f} from {n0} to {n1} runs; "
                  f"memory {a[1]:.0f} -> {b[1]:.0f} MB")  # fmt: skip
    print(f"load at end {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
