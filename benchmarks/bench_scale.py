"""Every strategy's query as the pool grows from 10,000 to ImageNet's 1,281,167 images.

Each (strategy, pool size, budget) runs in a fresh process (`--child`) fed seeded synthetic
inputs at the shapes the ImageNet spec gives (experiments/imagenet.yaml: ResNet18's 512-d
features, 1,000 classes, T = 25 MC-dropout passes summarised, VAAL's 32-d latent codes, M = 5
ensemble votes), put into the strategy through the query context's cache (`ctx.provide`), so the
task model's forward pass (a known cost per image) is measured apart. Strategies whose work needs
trained models (vaal, ensemble_varr, suggestive_annotation) run their own selection functions on
given codes, votes or scores. The pool at size N: N unlabeled images and N // 9 labeled ones
(ImageNet's first query: 128,120 labeled, 1,153,047 unlabeled); budgets 5% of N (the paper's
per-query share) and 1% of N.

Per run: query seconds and peak RSS (VmHWM, reset through /proc/self/clear_refs once the inputs
exist, so the peak is the query's; the total adds the inputs' and the interpreter's resident
size), checked against the memory formula of docs/scale.md. A run whose fitted time would exceed
`--bound-s` is not started; a run that passes it is killed. Such sizes get the time extrapolated
from the fit (time ~ N^k over the measured sizes) and from the FLOP and byte counts, on this CPU
(its rates measured at the start) and on an H100 (SXM: 67 TFLOP/s fp32, 3.35 TB/s HBM3 per
NVIDIA's datasheet, at `--gpu-fraction` of both).

Usage: nice -n 10 python benchmarks/bench_scale.py [--bound-s 600] [--sizes 10000,...]
       [--strategies coreset,badge] [--shape imagenet|cifar10] [--json out.json]
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import resource
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MB = 2**20
SIZES = [10_000, 33_636, 113_137, 380_546, 1_281_167]  # 10^4 .. 1,281,167, evenly in log
FRACTIONS = (0.05, 0.01)
H100 = {"name": "NVIDIA H100 SXM", "flops": 67e12, "bytes": 3.35e12}  # fp32, HBM3 (datasheet)


@dataclass(frozen=True)
class Shape:
    """What a strategy reads, per image, at one spec's sizes."""

    name: str
    d: int  # task-model feature width
    classes: int
    mc_samples: int = 25
    latent: int = 32
    members: int = 5


SHAPES = {
    "imagenet": Shape("imagenet", 512, 1000),  # resnet18, ImageNet-1k
    "cifar10": Shape("cifar10", 4096, 10),  # vgg16_bn's 4096-d head, CIFAR-10
}


# ---------------------------------------------------------------- memory of this process
def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def reset_peak() -> None:
    """The kernel's resident high-water mark back to the current size (Linux >= 4.0)."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def peak_bytes() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise OSError("no VmHWM in /proc/self/status")


# ---------------------------------------------------------------- the formulas of docs/scale.md
def inputs_bytes(name: str, u: int, lab: int, s: Shape) -> int:
    """Bytes of what the strategy is given (and the pool's index arrays: 8 P + P + 8 U)."""
    p = u + lab
    pool = 9 * p + 8 * u
    given = {
        "random": 0,
        "entropy": 4 * u * s.classes,
        "margin": 4 * u * s.classes,
        "least_confidence": 4 * u * s.classes,
        "mc_dropout": 4 * u * (s.classes + 1),
        "dbal": 4 * u * (s.classes + 1),
        "qbc": 8 * u,
        "coreset": 4 * p * s.d,
        "badge": 4 * u * (s.d + s.classes),
        "typiclust": 4 * p * s.d,
        "vaal": 4 * u * s.latent,
        "ensemble_varr": 8 * u * s.members,
        "suggestive_annotation": 4 * u * (s.d + 1),
    }[name]
    return pool + given


def working_bytes(name: str, u: int, lab: int, b: int, s: Shape) -> int:
    """Bytes the query itself adds at its peak (docs/scale.md derives each term)."""
    p, rows, chunk = u + lab, 65536, 4096
    top_k = 48 * u  # float64 scores, their negation, the tie-break permutation, lexsort's order
    softmax = 4 * min(u, rows) * s.classes + 8 * u + top_k  # one row block's temporary
    return {
        "random": 16 * u,
        "entropy": softmax,
        "margin": 24 * min(u, rows) + 8 * u + top_k,  # top-2 per row block: no R x C temporary
        "least_confidence": 12 * min(u, rows) + 8 * u + top_k,  # the max per row block
        "mc_dropout": softmax,
        "dbal": softmax + 4 * u,
        "qbc": top_k,
        # two distance blocks: the next is computed while the last is still referenced
        "coreset": 21 * p + 4 * min(chunk, lab) * (2 * min(chunk, p) + s.d),
        "badge": 4 * u * s.classes + 44 * u,
        # the normalised copy; k-means' labels, weights, norms; MiniBatchKMeans' k-means++
        # sample (3 batches of rows) and one batch's distances to the centres, twice; each
        # member's typicality and its K = 20 nearest, kept between visits of its cluster
        "typiclust": 4 * p * s.d
        + 40 * p
        + 4 * min(p, 3 * 4096) * s.d
        + 8 * 4096 * min(lab + b, 500)
        + 168 * p,
        "vaal": 12 * u + 4 * 1024 * 512 * 3,
        "ensemble_varr": s.members * u + 24 * u + top_k,
        # float64 unit descriptors; the first gains a block of candidates at a time (the block
        # and its difference to the cover), later up to 64 stale rows at a time; the cover and a
        # pick's row; the heap's tuples
        "suggestive_annotation": 8 * s.d * (u + 2 * b)
        + 2 * 8 * u * min(2 * b, max(1, 2**27 // (8 * u)))
        + 2 * 8 * u * min(64, 2 * b)
        + 16 * u
        + 120 * 2 * b
        + top_k,
    }[name]


def host_flops(name: str, u: int, lab: int, b: int, s: Shape) -> float:
    """FLOPs that run on the CPU whatever the device: TypiClust's scikit-learn MiniBatchKMeans,
    at most max_iter (100) x P / batch steps of batch x k x d distances (it often stops early:
    an upper bound), plus k-means++ seeding (2 + ln k trials per centre over the seeding rows)."""
    if name != "typiclust":
        return 0.0
    p, batch, k = u + lab, 4096, min(lab + b, 500)
    if k <= 50:  # KMeans: at most 300 Lloyd iterations over all rows
        return 2.0 * 300 * p * k * s.d
    seeding = 2.0 * k * (2 + math.log(k)) * min(p, 3 * batch) * s.d
    return 2.0 * (100 * p / batch) * batch * k * s.d + seeding


def cost(name: str, u: int, lab: int, b: int, s: Shape) -> tuple[float, float]:
    """(FLOPs, bytes moved) of the query's own work (the counts of docs/scale.md)."""
    p = u + lab
    sort = 8.0 * u * max(1.0, math.log2(u))
    softmax = (4.0 * u * s.classes * 3, 4.0 * u * s.classes + sort)
    k = min(lab + b, 500)  # TypiClust's clusters
    m = p / k  # images per cluster
    return {
        "random": (0.0, 16.0 * u),
        "entropy": softmax,
        "margin": softmax,
        "least_confidence": softmax,
        "mc_dropout": softmax,
        "dbal": softmax,
        "qbc": (0.0, sort),
        # the pass against the labeled rows, then one read of the features per pick
        "coreset": (2.0 * u * lab * s.d + 2.0 * b * p * s.d, b * (4.0 * p * s.d + 24.0 * p)),
        # one read of both factors per pick, and the float64 cumulative sum
        "badge": (2.0 * b * u * (s.d + s.classes), b * (4.0 * u * (s.d + s.classes) + 48.0 * u)),
        # (k-means: `host_flops`, on the CPU anyway) each cluster's typicality once, then per
        # pick the rows whose K = 20 nearest held the pick (about K), against the m images left
        "typiclust": (2.0 * p * m * s.d + 2.0 * b * 20 * m * s.d, 4.0 * 3 * p * s.d),
        "vaal": (2.0 * u * (s.latent * 512 + 512 * 512 + 512), 4.0 * u * s.latent + sort),
        "ensemble_varr": (0.0, 8.0 * u * s.members * s.members + sort),
        # lazy greedy: the K = 2b first gains, then ~100 rows re-evaluated per pick (as measured
        # on these Gaussian descriptors, which clustered features would need fewer of), each a
        # row of N x d float64 products
        "suggestive_annotation": (2.0 * (102 * b) * u * s.d, 8.0 * (102 * b) * u * s.d / 64),
    }[name]


# ---------------------------------------------------------------- one run, in its own process
def _child(name: str, u: int, budgets: list[int], shape: str, bound: float) -> list[dict]:
    """Each budget's query on one set of inputs, smallest first (a larger budget's peak then
    reuses what a smaller one's freed); a query past `bound` seconds ends the list."""
    import numpy as np
    import torch

    from vaal_core.datasets import ImageData
    from vaal_core.plugins import load_plugins
    from vaal_core.run.pool import Pool
    from vaal_core.spec import load_spec
    from vaal_core.strategies import QueryContext, make_strategy
    from vaal_core.train.batches import Batches
    from vaal_core.train.device import seed_everything

    torch.set_grad_enabled(False)
    load_plugins()
    s, lab = SHAPES[shape], u // 9
    p = u + lab
    spec = load_spec(ROOT / "experiments" / f"{shape}.yaml")
    if name == "typiclust":  # scikit-learn, imported on first use, is part of the process
        import sklearn.cluster  # noqa: F401
    base = rss_bytes()
    gen = torch.Generator().manual_seed(1)

    def randn(*shape_, scale=1.0, rows=65536):  # filled block by block: no full-size temporary
        x = torch.empty(*shape_)
        for i in range(0, shape_[0], rows):
            x[i : i + rows] = torch.randn(min(rows, shape_[0] - i), *shape_[1:], generator=gen)
        return x.mul_(scale) if scale != 1.0 else x

    def softmax_rows(x, rows=65536):
        for i in range(0, len(x), rows):
            x[i : i + rows] = x[i : i + rows].softmax(1)
        return x

    data = ImageData(
        "synthetic",
        torch.zeros(1, 1, 1, 1, dtype=torch.uint8).expand(p, 1, 1, 1),  # never read
        torch.zeros(1, dtype=torch.long).expand(p),
        torch.zeros(1, 1, 1, 1, dtype=torch.uint8),
        torch.zeros(1, dtype=torch.long),
        s.classes,
        (0.5,),
        (0.5,),
    )
    rng = np.random.default_rng(0)
    pool = Pool(np.arange(p), np.sort(rng.choice(p, lab, replace=False)))
    ctx = QueryContext(
        spec=spec,
        pool=pool,
        task_model=torch.nn.Identity(),  # never called: every input is given
        batches=Batches(data, torch.device("cpu")),
        rng=rng,
        generator=seed_everything(0, 0, 2),
        cycle=0,
        progress=False,
    )
    cands, unl = pool.candidates, pool.unlabeled
    run, extra = None, {}  # `extra`: what a query reports beside its picks
    if name in ("entropy", "margin", "least_confidence", "badge"):
        ctx.provide("probs", unl, softmax_rows(randn(u, s.classes, scale=3.0)))
    if name in ("mc_dropout", "dbal"):
        from vaal_core.tasks.classification import MCProbabilities

        mean = softmax_rows(randn(u, s.classes, scale=3.0))
        exp_h = torch.rand(u, generator=gen) * math.log(s.classes)
        ctx.provide("mc", unl, MCProbabilities(mean, exp_h, s.mc_samples), s.mc_samples)
    if name == "qbc":
        from vaal_core.tasks.segmentation import SegMCScores

        scores = SegMCScores(torch.rand(u, generator=gen), torch.rand(u, generator=gen), 25)
        ctx.provide("mc", unl, scores, s.mc_samples)
    if name in ("coreset", "typiclust"):
        ctx.provide("embeddings", cands, randn(p, s.d))
    if name == "badge":
        ctx.provide("embeddings", unl, randn(u, s.d))
    if name == "vaal":  # the discriminator on the VAE's latent codes, then the selection's sort
        from vaal_core.vaal.game import gather_rows
        from vaal_core.vaal.models import Discriminator

        disc, mu = Discriminator(s.latent).eval(), randn(u, s.latent)

        def run(b):  # batches gathered as VAALModels.score gathers them
            batches = (disc.prob_labeled(mu[i : i + 1024]) for i in range(0, u, 1024))
            probs = gather_rows(batches, u, mu.device)
            return torch.argsort(probs, stable=True)[:b].numpy()

    if name == "ensemble_varr":  # the members' votes given (training them is the real cost)
        from baselines.scores import top_k, variation_ratio

        votes = torch.randint(0, s.classes, (s.members, u), generator=gen)

        def run(b):
            return top_k(variation_ratio(votes, s.classes), b, rng)

    if name == "suggestive_annotation":  # uncertainty given (the bootstrap members' work)
        from baselines.scores import top_k
        from baselines.suggestive import greedy_representative

        unc, desc = torch.rand(u, generator=gen), randn(u, s.d)

        def run(b):
            k = min(u, 2 * b)
            cand = top_k(unc, k, rng)
            return cand[greedy_representative(desc[cand], desc, b, extra)]

    if run is None:
        strategy = make_strategy(name, spec)

        def run(b):
            return strategy.query(ctx, b)

    def over(*_):
        raise TimeoutError

    signal.signal(signal.SIGALRM, over)
    out = []
    for b in sorted(budgets):
        gc.collect()
        before = rss_bytes()
        reset_peak()
        signal.alarm(int(bound) + 1)
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            picks = run(b)
        except TimeoutError:
            out.append({"budget": b, "over_bound": True})
            break
        finally:
            signal.alarm(0)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        peak = peak_bytes()
        picks = np.asarray(getattr(picks, "indices", picks))  # a checked query's Selection
        assert len(picks) == b and len(np.unique(picks)) == b
        out.append(
            {
                "budget": b,
                "seconds": seconds,
                "cpu_seconds": cpu,
                "base_bytes": base,
                "before_bytes": before,
                "peak_bytes": peak,
                "inputs_bytes": before - base,
                **extra,
            }
        )
        del picks
    return out


# ---------------------------------------------------------------- the driver
def cpu_rates() -> dict:
    """This CPU's fp32 matmul FLOP/s and streaming read bytes/s (matrix-vector), now."""
    import torch

    a, bm = torch.randn(2048, 512), torch.randn(512, 4096)
    big, v = torch.randn(100_000, 512), torch.randn(512)
    torch.mm(a, bm), torch.mv(big, v)
    t0 = time.perf_counter()
    for _ in range(5):
        torch.mm(a, bm)
    flops = 5 * 2 * 2048 * 512 * 4096 / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    for _ in range(20):
        torch.mv(big, v)
    return {"flops": flops, "bytes": 20 * big.numel() * 4 / (time.perf_counter() - t0)}


def fit(points: list[tuple[float, float]]) -> tuple[float, float] | None:
    """(k, c) of t = c N^k, least squares in log-log over the points' largest three sizes."""
    pts = sorted(points)[-3:]
    if len(pts) < 2:
        return None
    xs, ys = [math.log(n) for n, _ in pts], [math.log(max(t, 1e-6)) for _, t in pts]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    k = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mx) ** 2 for x in xs
    )
    return k, math.exp(my - k * mx)


def run_sizes(name: str, u: int, budgets: list[int], shape: str, bound: float) -> list[dict]:
    """The child's results, or one status per budget when the child failed or hung."""
    cmd = [sys.executable, __file__, "--child", json.dumps([name, u, budgets, shape, bound])]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    limit = bound * len(budgets) + 600  # inputs of 5 GB take minutes on a busy machine
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=limit, env=env)
    except subprocess.TimeoutExpired:
        return [{"budget": b, "status": f"killed after {limit:.0f} s"} for b in budgets]
    if out.returncode != 0:
        tail = (out.stderr.strip().splitlines() or ["?"])[-1]
        return [{"budget": b, "status": f"failed (exit {out.returncode}): {tail}"} for b in budgets]
    done = {r["budget"]: r for r in json.loads(out.stdout.strip().splitlines()[-1])}
    for r in done.values():
        r["status"] = "over the bound: stopped" if r.pop("over_bound", False) else "ok"
    return [
        done.get(b, {"budget": b, "status": "skipped: a smaller budget passed the bound"})
        for b in budgets
    ]


def fmt_s(t: float) -> str:
    if t < 100:
        return f"{t:.2f} s"
    if t < 36000:
        return f"{t / 60:.1f} min"
    return f"{t / 3600:.1f} h"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--sizes", default=",".join(map(str, SIZES)))
    ap.add_argument("--strategies", default="")
    ap.add_argument("--shape", default="imagenet", choices=sorted(SHAPES))
    ap.add_argument("--bound-s", type=float, default=600.0)
    ap.add_argument("--memory-cap-gb", type=float, default=0.0, help="0: 70%% of MemAvailable")
    ap.add_argument("--gpu-fraction", type=float, default=0.5)
    ap.add_argument("--json", default="")
    ap.add_argument("--report-from", default="", help="print the tables of a --json file")
    ap.add_argument("--prior", default="", help="JSON lines of an earlier run: sizes kept")
    args = ap.parse_args()
    if args.report_from:  # the --json file, or the JSON lines a run printed (a partial run)
        text = Path(args.report_from).read_text()
        rows = (
            json.loads(text)["rows"]
            if text.startswith("{\n")
            else [json.loads(line) for line in text.splitlines() if line.startswith("{")]
        )
        rates = None
        for line in text.splitlines():  # the rates a run printed in its header
            if line.startswith("measured rates now:"):
                words = line.split()
                rates = {"flops": float(words[3]) * 1e9, "bytes": float(words[7]) * 1e9}
        report(rows, sorted({r["n"] for r in rows}), args, rates)
        return
    if args.child:
        print(json.dumps(_child(*json.loads(args.child))))
        return

    from vaal_core.plugins import load_plugins
    from vaal_core.strategies import STRATEGIES
    from vaal_core.train.device import cpu_model_name

    load_plugins()
    known = [n for n, c in STRATEGIES.items() if not c.whole_pool]
    names = args.strategies.split(",") if args.strategies else known
    sizes, s = [int(x) for x in args.sizes.split(",")], SHAPES[args.shape]
    with open("/proc/meminfo") as f:
        avail = next(int(x.split()[1]) * 1024 for x in f if x.startswith("MemAvailable"))
    cap = args.memory_cap_gb * 2**30 or 0.7 * avail
    rates, gpu_frac = cpu_rates(), args.gpu_fraction
    print(f"# bench_scale: {args.shape} shapes (d={s.d}, C={s.classes}, T={s.mc_samples})")
    print(f"CPU: {cpu_model_name()}, {os.cpu_count()} cores; load: {os.getloadavg()}")
    print(
        f"measured rates now: {rates['flops'] / 1e9:.1f} GFLOP/s fp32 matmul, "
        f"{rates['bytes'] / 1e9:.1f} GB/s matrix-vector reads; bound {args.bound_s:.0f} s per "
        f"query; memory cap {cap / 2**30:.1f} GB; GPU: {H100['name']} at {gpu_frac:.0%} of peak"
    )
    results: list[dict] = []
    prior = [json.loads(x) for x in open(args.prior) if x.startswith("{")] if args.prior else []
    for name in names:
        if name not in known:
            print(f"{name}: not a registered query strategy, skipped")
            continue
        points: dict[float, list[tuple[float, float]]] = {f: [] for f in FRACTIONS}
        stopped: set[float] = set()  # shares that passed the bound at a smaller size
        for r in prior:
            if r["strategy"] == name and r["status"] == "ok":
                points[r["fraction"]].append((r["n"], r["seconds"]))
            elif r["strategy"] == name and r["status"].startswith("over"):
                stopped.add(r["fraction"])
        for u in sizes:
            lab, todo, rows = u // 9, [], {}
            done = [r for r in prior if (r["strategy"], r["n"]) == (name, u)]
            if done:  # measured by an earlier run (--prior): kept as it was
                results.extend(done)
                continue
            for frac in FRACTIONS:
                b = max(1, round(frac * u))
                row = {"strategy": name, "n": u, "labeled": lab, "budget": b, "fraction": frac}
                inp, work = inputs_bytes(name, u, lab, s), working_bytes(name, u, lab, b, s)
                flops, nbytes = cost(name, u, lab, b, s)
                row["formula_bytes"], row["formula_work_bytes"] = inp + work, work
                host = host_flops(name, u, lab, b, s) / rates["flops"]
                row["cpu_model_s"] = host + flops / rates["flops"] + nbytes / rates["bytes"]
                gpu = (flops / H100["flops"] + nbytes / H100["bytes"]) / gpu_frac
                row["gpu_model_s"] = host + gpu
                f = fit(points[frac])
                if f:
                    row["fit_s"] = f[1] * u ** f[0]
                if inp + work > cap:
                    row["status"] = f"skipped: formula {(inp + work) / 2**30:.1f} GB > cap"
                elif frac in stopped:
                    row["status"] = "skipped: a smaller pool passed the bound"
                elif row.get("fit_s", 0.0) > args.bound_s:
                    row["status"] = f"skipped: fit predicts {fmt_s(row['fit_s'])} > bound"
                else:
                    todo.append(b)
                rows[b] = row
            if todo:
                for r in run_sizes(name, u, todo, args.shape, args.bound_s):
                    rows[r["budget"]].update(r, load=os.getloadavg()[0])
            for row in rows.values():
                if row["status"].startswith("over"):
                    stopped.add(row["fraction"])
                if row["status"] == "ok":
                    points[row["fraction"]].append((u, row["seconds"]))
                    row.pop("fit_s", None)
                    formula = row["base_bytes"] + row["formula_bytes"]
                    row["formula_ratio"] = row["peak_bytes"] / formula
                    grown = row["peak_bytes"] - row["before_bytes"]
                    row["work_ratio"] = grown / max(row["formula_work_bytes"], 1)
                results.append(row)
                print(json.dumps(row), flush=True)
        for frac in FRACTIONS:
            f = fit(points[frac])
            for row in results:
                if row["strategy"] == name and row["fraction"] == frac:
                    row["exponent_n"] = f[0] if f else None
                    if f and "seconds" not in row:
                        row["fit_s"] = f[1] * row["n"] ** f[0]
    report(results, sizes, args, rates)
    if args.json:
        Path(args.json).write_text(json.dumps({"rates": rates, "rows": results}, indent=1))


def report(results: list[dict], sizes: list[int], args, rates) -> None:
    """The markdown table: one line per (strategy, budget share)."""
    print(
        f"\n| strategy | budget | {' | '.join(f'N={n:,}' for n in sizes)} | k (time ~ N^k: wall / CPU) |"
    )
    print("|---|---|" + "---|" * (len(sizes) + 1))
    by = {}
    for r in results:
        by.setdefault((r["strategy"], r["fraction"]), {})[r["n"]] = r
    shape = SHAPES[getattr(args, "shape", "imagenet")]
    for r in results:  # the ratios to the formulas and the counts as this file states them
        if rates:
            args_ = (r["strategy"], r["n"], r["labeled"], r["budget"], shape)
            flops, nbytes = cost(*args_)
            host = host_flops(*args_) / rates["flops"]
            r["cpu_model_s"] = host + flops / rates["flops"] + nbytes / rates["bytes"]
            gpu = (flops / H100["flops"] + nbytes / H100["bytes"]) / args.gpu_fraction
            r["gpu_model_s"] = host + gpu
        if "seconds" in r:
            args_ = (r["strategy"], r["n"], r["labeled"])
            work = working_bytes(*args_, r["budget"], shape)
            r["formula_work_bytes"] = work
            r["formula_bytes"] = inputs_bytes(*args_, shape) + work
            r["formula_ratio"] = r["peak_bytes"] / (r["base_bytes"] + r["formula_bytes"])
            r["work_ratio"] = (r["peak_bytes"] - r["before_bytes"]) / max(work, 1)
    for rows in by.values():  # the fits over what ran, for the sizes that did not
        f = fit([(r["n"], r["seconds"]) for r in rows.values() if "seconds" in r])
        fc = fit([(r["n"], r["cpu_seconds"]) for r in rows.values() if "seconds" in r])
        for r in rows.values():
            r["exponent_n"] = f[0] if f else None
            r["exponent_n_cpu"] = fc[0] if fc else None
            if f and "seconds" not in r:
                r["fit_s"] = f[1] * r["n"] ** f[0]
                r["fit_cpu_s"] = fc[1] * r["n"] ** fc[0]
    for (name, frac), rows in by.items():
        cells = []
        for n in sizes:
            r = rows.get(n)
            if r is None:
                cells.append("")
            elif "seconds" in r:
                mark = "" if 0.8 <= r["formula_ratio"] <= 1.2 else " (!)"
                work = r["formula_work_bytes"]  # the query's own share, where it is not noise
                own = f", own {r['work_ratio']:.2f}x" if work >= 64 * MB else ""
                cells.append(
                    f"{fmt_s(r['seconds'])} (CPU {fmt_s(r['cpu_seconds'])}), "
                    f"{r['peak_bytes'] / MB:,.0f} MB "
                    f"({r['formula_ratio']:.2f}x formula{mark}{own})"
                )
            elif r["status"].startswith(("failed", "killed")):
                cells.append(r["status"].upper())
            else:
                fit_s = (
                    f"fit {fmt_s(r['fit_s'])} (CPU {fmt_s(r['fit_cpu_s'])}); "
                    if r.get("fit_s")
                    else ""
                )
                what = "stopped at the bound" if r["status"].startswith("over") else "not run"
                cells.append(
                    f"{what}; {fit_s}count: CPU {fmt_s(r['cpu_model_s'])}, "
                    f"GPU {fmt_s(r['gpu_model_s'])}; {r['formula_bytes'] / 2**30:.1f} GB"
                )
        one = next(iter(rows.values()))
        k, kc = one.get("exponent_n"), one.get("exponent_n_cpu")
        ks = f"{k:.2f} / {kc:.2f}" if k is not None else "-"
        print(f"| {name} | {frac:.0%} | {' | '.join(cells)} | {ks} |")
    # the exponent in the budget: the two shares at the largest size both measured
    print("\nexponent of time in the budget (5% vs 1% at the largest N measured at both):")
    for name in dict.fromkeys(r["strategy"] for r in results):
        both = [
            n
            for n in sizes
            if all("seconds" in by.get((name, f), {}).get(n, {}) for f in FRACTIONS)
        ]
        if both:
            n = both[-1]
            hi, lo = (by[(name, f)][n] for f in FRACTIONS)
            e = math.log(hi["seconds"] / lo["seconds"]) / math.log(hi["budget"] / lo["budget"])
            print(f"  {name}: {e:.2f} (N={n:,})")
    lazy = [r for r in results if "representative_evaluations" in r]
    if lazy:  # what the lazy greedy's count assumes (K + 2b rows) against what it did
        print("\nsuggestive annotation's cosine rows evaluated (the count assumes 102 b):")
        for r in lazy:
            e = r["representative_evaluations"]
            print(f"  N={r['n']:,} b={r['budget']:,}: {e:,} rows = {e / r['budget']:.2f} b")


if __name__ == "__main__":
    main()
