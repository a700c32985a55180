"""Cost of the baseline strategies once the shared features exist, and how it grows with the pool.

Three tables, one run. Wall seconds and process CPU seconds are both given: on a machine shared
with other jobs the CPU seconds (with --threads 1) are the steadier measure of work done.
1. Query seconds per strategy on a 50k pool (1k labeled, budget 1k, 512-d features, 10 classes),
   with embeddings, probabilities and MC-dropout summaries given (put in the query context's
   cache; the task model would raise if called). Each strategy runs through `Strategy.query`,
   the checked entry point. ensemble_varr is timed on given member votes (its real cost is
   training M task models, reported per cycle as query_stats.extra_train_s).
2. Core-set (k-center greedy) seconds and peak-memory growth at pools of 10k / 50k / 100k for a
   fixed budget, each in a fresh process: growth = the kernel's resident high-water mark (VmHWM,
   reset just before the call through /proc/self/clear_refs) minus the resident size before it,
   with the features already allocated. Ratios to 10k show linear growth; the N x N matrix a naive implementation
   builds is listed for scale.
3. BADGE at 50k x 1000 classes x 512-d: peak-memory growth of the factored seeding against the
   size of the materialised gradient embeddings (N x C*d floats).
Features are synthetic (a 10-centre Gaussian mixture): the work done does not depend on values
beyond k-means' iteration count.

Usage: python benchmarks/bench_baselines.py [--pool 50000] [--budget 1000] [--quick]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import time

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from baselines.ensemble import EnsembleOptions
from baselines.mc_dropout import MCOptions
from vaal_core.datasets import ImageData
from vaal_core.run.pool import Pool
from vaal_core.spec import spec_from_dict
from vaal_core.strategies import QueryContext, make_strategy
from vaal_core.tasks.classification import MCProbabilities
from vaal_core.train.batches import Batches
from vaal_core.train.device import cpu_model_name as cpu_name
from vaal_core.train.device import seed_everything
from vaal_core.train.passes import entropy

MB = 2**20


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / MB


def reset_peak() -> None:
    """Reset the kernel's resident high-water mark (VmHWM) to the current size (Linux >= 4.0)."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def peak_rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def mixture(n: int, d: int, seed: int, centres: int = 10, chunk: int = 8192) -> torch.Tensor:
    """Gaussian-mixture features built in place (no N x d temporaries)."""
    g = torch.Generator().manual_seed(seed)
    mu = torch.randn(centres, d, generator=g) * 3
    x = torch.randn(n, d, generator=g)
    which = torch.randint(centres, (n,), generator=g)
    for i in range(0, n, chunk):
        x[i : i + chunk] += mu[which[i : i + chunk]]
    return x


class _NoModel(torch.nn.Module):
    def forward(self, x):
        raise AssertionError("the benchmark gives features; the task model must not run")


def context(n: int, d: int, classes: int, labeled: int, spec, seed: int = 0) -> QueryContext:
    """A query context over a synthetic pool whose cache already holds every shared feature."""
    data = ImageData(
        "synthetic",
        torch.zeros(n, 1, 1, 1, dtype=torch.uint8),
        torch.zeros(n, dtype=torch.long),
        torch.zeros(1, 1, 1, 1, dtype=torch.uint8),
        torch.zeros(1, dtype=torch.long),
        classes,
        (0.5,),
        (0.5,),
    )
    rng = np.random.default_rng(seed)
    pool = Pool(np.arange(n), rng.choice(n, labeled, replace=False))
    ctx = QueryContext(
        spec=spec,
        pool=pool,
        task_model=_NoModel(),
        batches=Batches(data, torch.device("cpu")),
        rng=rng,
        generator=seed_everything(seed, 0, 2),
        cycle=0,
        progress=False,
    )
    return ctx


def provide_all(ctx: QueryContext, d: int, classes: int) -> None:
    cands, unl = ctx.pool.candidates, ctx.pool.unlabeled
    feats = mixture(len(cands), d, seed=1)
    g = torch.Generator().manual_seed(2)
    logits = feats @ (torch.randn(d, classes, generator=g) / d**0.5)
    unl_t = torch.as_tensor(unl)
    ctx.provide("embeddings", cands, feats)
    ctx.provide("embeddings", unl, feats[unl_t])
    ctx.provide("logits", cands, logits)
    ctx.provide("logits", unl, logits[unl_t])
    t = ctx.spec.baselines.options(MCOptions, "").mc_samples
    noisy = (logits[unl_t][None] + torch.randn(4, len(unl), classes, generator=g)).softmax(-1)
    summary = MCProbabilities(noisy.mean(0), entropy(noisy).mean(0), t)
    ctx.provide("mc", unl, summary, t)


def query_table(pool: int, budget: int, labeled: int, d: int, classes: int) -> list[str]:
    spec = spec_from_dict({"experiment": "bench"})
    rows = []
    for name in [
        "random",
        "entropy",
        "margin",
        "least_confidence",
        "mc_dropout",
        "dbal",
        "coreset",
        "badge",
        "typiclust",
    ]:
        ctx = context(pool, d, classes, labeled, spec)
        provide_all(ctx, d, classes)
        strategy = make_strategy(name, spec)  # imports the plugins (scikit-learn) untimed
        t0, c0 = time.perf_counter(), time.process_time()
        sel = strategy.query(ctx, budget)
        rows.append((name, time.perf_counter() - t0, time.process_time() - c0, len(sel)))
    from baselines.scores import top_k, variation_ratio

    g = torch.Generator().manual_seed(3)
    votes = torch.randint(
        classes,
        (spec.baselines.options(EnsembleOptions, "").ensemble_size, pool - labeled),
        generator=g,
    )
    t0, c0 = time.perf_counter(), time.process_time()
    top_k(variation_ratio(votes, classes), budget, np.random.default_rng(0))
    rows.append(
        ("ensemble_varr (given votes)", time.perf_counter() - t0, time.process_time() - c0, budget)
    )
    out = ["| strategy | query wall s | query CPU s | selected |", "|---|---:|---:|---:|"]
    out += [f"| {n} | {w:.2f} | {c:.2f} | {k} |" for n, w, c, k in rows]
    return out


def set_threads(threads: int) -> None:
    """One thread count for torch, OpenMP (scikit-learn) and BLAS alike."""
    torch.set_num_threads(threads)
    threadpool_limits(threads)


def _coreset_run(
    n: int, d: int, labeled: int, budget: int, threads: int
) -> tuple[float, float, float]:
    from baselines.coreset import k_center_greedy

    set_threads(threads)
    k_center_greedy(torch.randn(100, d), np.arange(100) < 10, 5)  # warm-up: thread pools, oneDNN
    feats = mixture(n, d, seed=1)
    mask = np.zeros(n, dtype=bool)
    mask[np.random.default_rng(0).choice(n, labeled, replace=False)] = True
    reset_peak()
    before = rss_mb()
    t0, c0 = time.perf_counter(), time.process_time()
    k_center_greedy(feats, mask, budget, chunk=4096)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return wall, cpu, max(0.0, peak_rss_mb() - before), feats.numel() * 4 / MB


def _badge_run(
    n: int, d: int, classes: int, budget: int, threads: int
) -> tuple[float, float, float]:
    from baselines.badge import badge_seeding, gradient_factors

    set_threads(threads)
    warm = torch.randn(100, classes).softmax(1)
    badge_seeding(gradient_factors(warm), torch.randn(100, d), 5, torch.Generator())
    g = torch.Generator().manual_seed(0)
    h = mixture(n, d, seed=1)
    probs = torch.randn(n, classes, generator=g) * 3  # softmax in place: no N x C temporaries
    probs.sub_(probs.max(1, keepdim=True).values).exp_()
    probs.div_(probs.sum(1, keepdim=True))
    reset_peak()
    before = rss_mb()
    t0, c0 = time.perf_counter(), time.process_time()
    badge_seeding(gradient_factors(probs), h, budget, torch.Generator().manual_seed(0))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    inputs = (h.numel() + probs.numel()) * 4 / MB
    return wall, cpu, max(0.0, peak_rss_mb() - before), inputs


def in_fresh_process(fn, *args):
    with mp.get_context("spawn").Pool(1) as p:
        return p.apply(fn, args)


def coreset_table(sizes: list[int], d: int, labeled: int, budget: int, threads: int) -> list[str]:
    out = [
        "| pool N | wall s | CPU s | CPU s ratio | peak growth MB | growth ratio "
        "| features MB (given) | N x N float32 (never built) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    base = None
    for n in sizes:
        wall, cpu, grow, feats = in_fresh_process(_coreset_run, n, d, labeled, budget, threads)
        base = base or (cpu, max(grow, 1e-9))
        nn_gb = n * n * 4 / 2**30
        out.append(
            f"| {n:,} | {wall:.2f} | {cpu:.2f} | {cpu / base[0]:.2f} | {grow:.1f} "
            f"| {grow / base[1]:.2f} | {feats:.0f} | {nn_gb:.1f} GiB |"
        )
    return out


def badge_table(n: int, d: int, classes: int, budget: int, threads: int) -> list[str]:
    wall, cpu, grow, inputs = in_fresh_process(_badge_run, n, d, classes, budget, threads)
    materialised = n * classes * d * 4 / 2**30
    return [
        "| N x C x d | picks | wall s | CPU s | inputs (h, p) MB | peak growth MB (factored) "
        "| materialised g (N x Cd float32) |",
        "|---|---:|---:|---:|---:|---:|---:|",
        f"| {n:,} x {classes} x {d} | {budget} | {wall:.2f} | {cpu:.2f} | {inputs:.0f} "
        f"| {grow:.0f} | {materialised:.1f} GiB |",
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pool", type=int, default=50_000)
    ap.add_argument("--budget", type=int, default=1000)
    ap.add_argument("--labeled", type=int, default=1000)
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument(
        "--threads",
        type=int,
        default=torch.get_num_threads(),
        help="torch/OpenMP/BLAS threads (1 gives steadier figures on a loaded machine)",
    )
    ap.add_argument("--quick", action="store_true", help="small sizes, to check the script runs")
    args = ap.parse_args()
    set_threads(args.threads)
    sizes = [10_000, 50_000, 100_000]
    badge_n, badge_picks = 50_000, 100
    if args.quick:
        args.pool, args.budget, args.labeled = 5000, 100, 100
        sizes, badge_n, badge_picks = [2000, 4000], 5000, 10
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"CPU: {cpu_name()} ({os.cpu_count()} cores), {args.threads} thread(s), load average "
        f"at start {load}, torch {torch.__version__}"
    )
    print(
        f"\n## Query seconds, pool {args.pool:,} ({args.labeled:,} labeled), budget "
        f"{args.budget:,}, {args.dim}-d features, 10 classes, features given\n"
    )
    print("\n".join(query_table(args.pool, args.budget, args.labeled, args.dim, 10)))
    print(
        f"\n## Core-set (k-center greedy), budget {args.budget:,}, {args.labeled:,} labeled, "
        f"{args.dim}-d, chunk 4096 (fresh process per size)\n"
    )
    print("\n".join(coreset_table(sizes, args.dim, args.labeled, args.budget, args.threads)))
    print("\n## BADGE k-means++ seeding, factored distances (fresh process)\n")
    print("\n".join(badge_table(badge_n, args.dim, 1000, badge_picks, args.threads)))


if __name__ == "__main__":
    main()
