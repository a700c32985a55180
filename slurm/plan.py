"""What a sweep will cost, before anything is submitted: `python -m slurm.sweep SPEC --plan`.

Per experiment: runs, cycles, images trained and scored per cycle, FLOPs per cycle by part (task
training, evaluation, VAE + discriminator, scoring passes, the strategy's own arithmetic), hours
on a named accelerator at a fraction of its datasheet peak, and the disk for caches and run
directories. Every model FLOP comes from `torch.utils.flop_counter.FlopCounterMode` over one
batch of the real networks (the task model from the suite's model factory, VAAL's VAE and
discriminator), run on the meta device (shapes only, no arithmetic), times the images the spec
implies; the strategies' own work (distances, k-means) is a formula printed beside its number.
docs/planning.md works the paper's ImageNet sweep by hand from these numbers.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from vaal_core.datasets.cache import disk_use
from vaal_core.errors import ExpectedError
from vaal_core.models import build_task_model
from vaal_core.spec import RuntimeSpec, Spec
from vaal_core.strategies import STRATEGIES, strategy_options
from vaal_core.tasks.classification import last_linear, mc_passes
from vaal_core.train.schedules import total_iterations
from vaal_core.train.topline import topline_task
from vaal_core.train.trainer import FIT_SAMPLE
from vaal_core.vaal.game import vaal_iterations
from vaal_core.vaal.models import VAE, Discriminator
from vaal_core.vaal.options import VAALOptions
from vaal_core.words import count


class PlanError(ExpectedError, ValueError):
    """A plan that cannot be made (an unknown accelerator, a dataset of unknown size)."""


# ----------------------------------------------------------------------------- facts
@dataclass(frozen=True)
class Accelerator:
    """Dense peak TFLOP/s from the vendor's datasheet (no structured-sparsity figures)."""

    name: str
    fp32: float
    half: float  # bf16 (fp16 where the chip has no bf16) tensor-core peak
    memory_tbs: float  # memory bandwidth, TB/s: what bounds k-center's and k-means++'s passes
    source: str


ACCELERATORS = {
    a.name: a
    for a in (
        Accelerator("h100", 67.0, 989.0, 3.35, "NVIDIA H100 Tensor Core GPU datasheet, SXM5"),
        Accelerator("h200", 67.0, 989.0, 4.8, "NVIDIA H200 Tensor Core GPU datasheet, SXM"),
        Accelerator("a100", 19.5, 312.0, 2.039, "NVIDIA A100 Tensor Core GPU datasheet, SXM 80GB"),
        Accelerator("l40s", 91.6, 362.0, 0.864, "NVIDIA L40S datasheet (BF16 dense)"),
        Accelerator("a10", 31.2, 125.0, 0.6, "NVIDIA A10 Tensor Core GPU datasheet (BF16 dense)"),
        Accelerator("v100", 15.7, 125.0, 0.9, "NVIDIA V100 datasheet, SXM2 (no bf16: FP16 tensor)"),
    )
}


@dataclass(frozen=True)
class DatasetFacts:
    train: int  # training images (the pool before `dataset.pool_size`)
    test: int
    channels: int
    classes: int
    source: str


DATASETS = {
    "mnist": DatasetFacts(60_000, 10_000, 1, 10, "LeCun et al. 1998"),
    "cifar10": DatasetFacts(50_000, 10_000, 3, 10, "Krizhevsky 2009"),
    "cifar100": DatasetFacts(50_000, 10_000, 3, 100, "Krizhevsky 2009"),
    "imagenet": DatasetFacts(1_281_167, 50_000, 3, 1000, "ILSVRC-2012 train / val"),
    # 29,780 images without clutter; the suite's seeded 20% per class (rounded up) is about 6,000
    "caltech256": DatasetFacts(23_780, 6_000, 3, 256, "Griffin et al. 2007, 80/20 (approx.)"),
    "cityscapes": DatasetFacts(2_975, 500, 3, 19, "Cordts et al. 2016, train / val"),
    "bdd100k": DatasetFacts(7_000, 1_000, 3, 19, "Yu et al. 2020, seg train / val"),
}

FP32 = RuntimeSpec(precision="fp32")  # FLOPs do not depend on precision; no autocast on meta
PARTS = ("train", "eval", "vaal", "score", "own")
PART_NAMES = {
    "train": "task training",
    "eval": "evaluation",
    "vaal": "VAE + discriminator",
    "score": "scoring passes",
    "own": "strategy's own work",
}


# ----------------------------------------------------------------------------- FLOP counts
def count_flops(fn: Callable[[], object]) -> int:
    """FLOPs of `fn` as torch's FlopCounterMode counts them (matmuls and convolutions)."""
    with FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


@dataclass(frozen=True)
class ModelCosts:
    """FLOPs per image of every pass a plan needs, counted on the real networks."""

    train: float  # task model forward + backward, one image
    forward: float  # task model forward (evaluation, logits, embeddings)
    mc: float  # T MC-dropout passes of one image as the suite runs them
    features: int  # penultimate width d (core-set, BADGE)
    vaal_iter: float  # one VAAL iteration at vaal.batch_size (labeled + unlabeled batches)
    vaal_score: float  # encoder mu + discriminator, one image
    mc_samples: int


def _input(spec: Spec, facts: DatasetFacts, batch: int, size: int | None = None) -> torch.Tensor:
    side = size or spec.dataset.image_size or 32
    return torch.randn(batch, facts.channels, side, side)


def model_costs(spec: Spec, facts: DatasetFacts, mc_samples: int = 25) -> ModelCosts:
    """Counted on the meta device at batch 2 (BatchNorm needs more than one), divided by 2."""
    b = 2
    with torch.device("meta"):
        model = build_task_model(
            spec.task.model, facts.channels, facts.classes, spec.task.model_width
        )
        x = _input(spec, facts, b)

        def step():
            model(x).float().logsumexp(-1).sum().backward()

        train = count_flops(step) / b
        model.eval()
        forward = count_flops(lambda: model(x)) / b
        mc = count_flops(lambda: mc_passes(model, x, mc_samples, FP32)) / b
        try:
            features = last_linear(model).in_features
        except ValueError:  # a segmentation network has no Linear head: no k-center features
            features = 0
        cfg = VAALOptions.of(spec)
        vae = VAE(facts.channels, cfg.latent_dim, cfg.image_size, cfg.width)
        disc = Discriminator(cfg.latent_dim, cfg.disc_hidden, cfg.disc_layers)
        xv = _input(spec, facts, b, cfg.image_size)

        def vae_step():  # both batches through the VAE, their mu through the discriminator
            out = vae(xv)
            (out[0].sum() + disc(out[2]).sum()).backward()

        def disc_step():  # mu without gradient, the discriminator trained
            with torch.no_grad():
                mu = vae.encode(xv)[0]
            disc(mu).sum().backward()

        per_batch = 2 * (
            cfg.num_vae_steps * count_flops(vae_step) + cfg.num_adv_steps * count_flops(disc_step)
        )
        vaal_iter = per_batch / b * cfg.batch_size
        vaal_score = count_flops(lambda: disc(vae.encode(xv)[0])) / b
    return ModelCosts(train, forward, mc, features, vaal_iter, vaal_score, mc_samples)


# ----------------------------------------------------------------------------- strategies
@dataclass(frozen=True)
class QueryCost:
    """One query of one strategy: FLOPs by part, images scored, extra images trained."""

    flops: dict[str, float]
    scored: int
    trained: int = 0
    notes: tuple[str, ...] = ()
    own_bytes: float = 0.0  # bytes the strategy's own passes read (memory-bound algorithms)


@dataclass(frozen=True)
class QueryInputs:
    spec: Spec
    costs: ModelCosts
    facts: DatasetFacts
    n: int  # pool
    labeled: int
    budget: int
    options: object | None


# name -> QueryInputs -> QueryCost; a strategy not here is planned as task training only, said so
STRATEGY_COSTS: dict[str, Callable[[QueryInputs], QueryCost]] = {}


def strategy_cost(*names: str):
    def deco(fn):
        for name in names:
            STRATEGY_COSTS[name] = fn
        return fn

    return deco


@strategy_cost("random", "full")
def _nothing(q: QueryInputs) -> QueryCost:
    return QueryCost({}, 0)


@strategy_cost("entropy", "margin", "least_confidence")
def _softmax(q: QueryInputs) -> QueryCost:
    u = q.n - q.labeled
    return QueryCost({"score": u * q.costs.forward}, u)


@strategy_cost("mc_dropout", "dbal", "qbc")
def _mc(q: QueryInputs) -> QueryCost:
    u = q.n - q.labeled
    t = getattr(q.options, "mc_samples", q.costs.mc_samples)
    mc = q.costs.mc * t / q.costs.mc_samples
    return QueryCost(
        {"score": u * mc},
        u,
        notes=(f"T = {t} passes after the first Dropout (the backbone once per image)",),
    )


@strategy_cost("coreset")
def _coreset(q: QueryInputs) -> QueryCost:
    u, d = q.n - q.labeled, q.costs.features
    u_cand = min(u, getattr(q.options, "candidates", 0) or u)
    d_used = getattr(q.options, "projection", 0) or d
    own = 2.0 * d_used * u_cand * (q.labeled + q.budget)
    return QueryCost(
        {"score": q.n * q.costs.forward, "own": own},
        q.n,
        notes=(
            f"k-center greedy: 2 d (L + b) U FLOPs = 2 x {d_used} x ({q.labeled:,} + {q.budget:,}) "
            f"x {u_cand:,} (first pass against the labeled set, then one pass per pick); "
            f"reads 4 d U b = {4.0 * d_used * u_cand * q.budget:.3g} B (fp32 features once per pick)",
        ),
        own_bytes=4.0 * d_used * u_cand * q.budget,
    )


@strategy_cost("badge")
def _badge(q: QueryInputs) -> QueryCost:
    u, d, c = q.n - q.labeled, q.costs.features, q.facts.classes
    return QueryCost(
        {"score": u * q.costs.forward, "own": 2.0 * (c + d) * u * q.budget},
        u,
        notes=(
            "k-means++ seeding on factored gradient embeddings (baselines/badge.py): two "
            "matrix-vector products per pick, 2 (C + d) U b FLOPs, 4 (C + d) U b bytes",
        ),
        own_bytes=4.0 * (c + d) * u * q.budget,
    )


@strategy_cost("typiclust")
def _typiclust(q: QueryInputs) -> QueryCost:
    d, k = q.costs.features, min(q.labeled + q.budget, getattr(q.options, "max_clusters", 500))
    iters = 100
    own = 2.0 * d * q.n * k * iters + 2.0 * d * q.n * (q.n / k)
    return QueryCost(
        {"score": q.n * q.costs.forward, "own": own},
        q.n,
        notes=(
            f"k-means 2 d N K x {iters} iterations (assumed), K = {k}; kNN within clusters 2 d N^2/K",
        ),
    )


@strategy_cost("ensemble_varr")
def _ensemble(q: QueryInputs) -> QueryCost:
    m = getattr(q.options, "ensemble_size", 5)
    steps = total_iterations(q.spec.task, q.labeled, q.facts.train) * q.spec.task.batch_size
    u = q.n - q.labeled
    return QueryCost(
        {"train": m * steps * q.costs.train, "score": m * u * q.costs.forward},
        m * u,
        trained=m * steps,
        notes=(f"{m} members, each trained like the task model and scoring the unlabeled pool",),
    )


@strategy_cost("suggestive_annotation")
def _suggestive(q: QueryInputs) -> QueryCost:
    """The bootstrap members (as the ensemble's), then the lazy greedy facility location over
    K = `sa_candidates_factor` x b candidates: their first gains and ~100 re-evaluated rows per
    pick (benchmarks/bench_scale.py), each 2 d U float64 FLOPs and one read of U x d."""
    members = _ensemble(q)
    d, u = q.costs.features, q.n - q.labeled
    rows = getattr(q.options, "candidates_factor", 2.0) * q.budget + 100 * q.budget
    return QueryCost(
        {**members.flops, "own": 2.0 * d * u * rows},
        members.scored,
        trained=members.trained,
        notes=(
            *members.notes,
            f"facility location: {rows:,.0f} rows of 2 d U (lazy greedy; ~100 per pick assumed)",
        ),
        own_bytes=8.0 * d * u * rows / 64,
    )


@strategy_cost("vaal")
def _vaal(q: QueryInputs) -> QueryCost:
    u = q.n - q.labeled
    iters = vaal_iterations(q.spec, q.labeled, q.facts.train, q.n)
    return QueryCost(
        {"vaal": iters * q.costs.vaal_iter, "score": u * q.costs.vaal_score},
        u,
        notes=(
            f"{iters:,} VAE/discriminator iterations of 2 x "
            f"{VAALOptions.of(q.spec).batch_size} images",
        ),
    )


# ----------------------------------------------------------------------------- the plan
@dataclass(frozen=True)
class CyclePlan:
    cycle: int
    labeled: int
    unlabeled: int
    trained: int  # images through the task model's training (and members')
    scored: int  # images through a scoring pass
    flops: dict[str, float]
    own_bytes: float = 0.0


@dataclass(frozen=True)
class RunPlan:
    strategy: str
    cycles: list[CyclePlan]
    notes: tuple[str, ...] = ()

    def flops(self, part: str | None = None) -> float:
        return sum(c.flops.get(p, 0.0) for c in self.cycles for p in ([part] if part else PARTS))

    def seconds(self, rate: Rate, part: str | None = None) -> float:
        """Compute time at `rate`; the strategy's own passes take the longer of their FLOPs and
        their bytes at the memory bandwidth (when the rate has one)."""
        total = 0.0
        for c in self.cycles:
            for p in [part] if part else PARTS:
                t = c.flops.get(p, 0.0) / rate.flops_per_s
                if p == "own" and rate.bytes_per_s:
                    t = max(t, c.own_bytes / rate.bytes_per_s)
                total += t
        return total


@dataclass
class ExperimentPlan:
    experiment: str
    seeds: int
    runs: list[RunPlan]
    costs: ModelCosts
    n: int
    disk_cache: int
    disk_runs: int
    assumptions: list[str] = field(default_factory=list)


def plan_experiment(spec: Spec, strategies: list[str], seeds: list[int]) -> ExperimentPlan:
    facts = DATASETS.get(spec.dataset.name)
    if facts is None:
        raise PlanError(
            f"no planning facts for dataset '{spec.dataset.name}' (known: {', '.join(DATASETS)}); "
            "add its sizes to slurm/plan.py DATASETS"
        )
    n = spec.dataset.pool_size or facts.train
    test = spec.dataset.test_size or facts.test
    mc_t = 25
    costs = model_costs(spec, facts, mc_t)
    batch = spec.task.batch_size
    runs = []
    for name in strategies:
        cls = STRATEGIES.get(name)
        opts = strategy_options(cls, spec)
        cost_fn = STRATEGY_COSTS.get(name)
        full = name == "full"
        cycles = 1 if full else spec.active.cycles
        # the top-line trains as `task.topline` says (the passes of the largest labeled set)
        task = topline_task(spec, n, spec.dataset.val_size, facts.train) if full else spec.task
        out, notes = [], []
        for c in range(cycles):
            labeled = n if full else spec.active.initial + c * spec.active.budget
            steps = total_iterations(task, labeled, facts.train) * batch
            checked = test + min(labeled, FIT_SAMPLE)  # the test set, and the fit check
            flops = {"train": steps * costs.train, "eval": checked * costs.forward}
            trained, scored, own_bytes = steps, 0, 0.0
            if c < cycles - 1:  # the last cycle trains and evaluates, it does not query
                if cost_fn is None:
                    notes = [f"no cost model for '{name}': its query is not counted"]
                else:
                    q = cost_fn(
                        QueryInputs(spec, costs, facts, n, labeled, spec.active.budget, opts)
                    )
                    for part, v in q.flops.items():
                        flops[part] = flops.get(part, 0.0) + v
                    trained, scored, notes = trained + q.trained, q.scored, list(q.notes)
                    own_bytes = q.own_bytes
            out.append(CyclePlan(c, labeled, n - labeled, trained, scored, flops, own_bytes))
        runs.append(RunPlan(name, out, tuple(notes)))
    plan = ExperimentPlan(spec.experiment, len(seeds), runs, costs, n, 0, 0)
    plan.disk_cache, plan.disk_runs = _disk(spec, facts, n, test, plan)
    plan.assumptions = _assumptions(spec, facts, n, test, costs)
    return plan


def _disk(
    spec: Spec, facts: DatasetFacts, n: int, test: int, plan: ExperimentPlan
) -> tuple[int, int]:
    cache = 0
    if spec.dataset.cache_resolution:
        r = spec.dataset.cache_resolution
        row = (facts.channels, r, r)
        cache = disk_use(facts.train, row).total + disk_use(facts.test, row).total
    per_runs = 0
    for run in plan.runs:  # pool-<c>.npy (int64 indices) + cycles.jsonl, env.json, spec.yaml
        per_runs += sum(128 + 8 * c.labeled + 4096 for c in run.cycles) + 3 * 4096
    return cache, per_runs * plan.seeds


def _assumptions(
    spec: Spec, facts: DatasetFacts, n: int, test: int, costs: ModelCosts
) -> list[str]:
    it, vaal = spec.task.iterations, VAALOptions.of(spec)
    steps = (
        f"{it:,} fixed" if it else f"{spec.task.epochs} epochs over the {spec.task.epoch_basis} set"
    )
    seg = []
    if spec.task.kind != "classification":
        seg = [
            f"{spec.task.kind}: every image priced as a square {spec.dataset.image_size}px crop "
            "(whole evaluation frames, masks in the cache and per-pixel scores are not modelled)"
        ]
    return seg + [
        f"dataset {spec.dataset.name}: pool {n:,}, test {test:,}, {facts.classes} classes ({facts.source})",
        f"task model {spec.task.model} at {spec.dataset.image_size or 32}px: "
        f"{costs.train / 1e9:.3g} GFLOP per training image (forward + backward), "
        f"{costs.forward / 1e9:.3g} GFLOP per forward, counted by FlopCounterMode on the meta device",
        f"task training: {steps} steps x batch {spec.task.batch_size} per cycle",
        f"top-line (`full`): task.topline={spec.task.topline}, "
        f"{total_iterations(topline_task(spec, n, spec.dataset.val_size, facts.train), n, facts.train):,}"
        " steps over the whole pool",
        f"VAAL: {costs.vaal_iter / 1e9:.3g} GFLOP per iteration (VAE {vaal.image_size}px width "
        f"{vaal.width}, {vaal.num_vae_steps} VAE + {vaal.num_adv_steps} discriminator "
        f"steps on a labeled and an unlabeled batch of {vaal.batch_size}); scoring "
        f"{costs.vaal_score / 1e9:.3g} GFLOP per image",
        f"MC dropout: {costs.mc / 1e9:.3g} GFLOP per image for T = {costs.mc_samples}",
        "counted: matmuls and convolutions only (FlopCounterMode); elementwise ops, data loading, "
        "host syncs and Python overhead are not FLOPs and are not counted",
        "every cycle retrains the task model from scratch; the last cycle does not query",
        f"evaluation: the test set plus the fit check on up to {FIT_SAMPLE:,} labeled images "
        "(vaal_core/train/trainer.py FIT_SAMPLE), one forward each",
        "run directories: pool-<c>.npy (8 B per labeled index) + one 4 KiB block per file; "
        "TensorBoard logs and saved models not counted",
    ]


# ----------------------------------------------------------------------------- the rate
@dataclass(frozen=True)
class Rate:
    flops_per_s: float
    description: str
    bytes_per_s: float = 0.0  # 0: memory-bound passes are timed by their FLOPs alone


def accelerator_rate(name: str, fraction: float, precision: str) -> Rate:
    acc = ACCELERATORS.get(name.lower())
    if acc is None:
        raise PlanError(
            f"unknown accelerator '{name}'; known: {', '.join(ACCELERATORS)}, or cpu (measured here)"
        )
    if not 0 < fraction <= 1:
        raise PlanError(f"--peak-fraction must be in (0, 1], got {fraction}")
    half = precision in ("bf16", "fp16")
    peak = acc.half if half else acc.fp32
    kind = "bf16/fp16 tensor" if half else "fp32"
    return Rate(
        peak * 1e12 * fraction,
        f"{acc.name}: {peak:g} TFLOP/s {kind} peak x {fraction:g}, and {acc.memory_tbs:g} TB/s "
        f"memory x {fraction:g} for memory-bound passes ({acc.source})",
        acc.memory_tbs * 1e12 * fraction,
    )


def measured_cpu_rate(spec: Spec, steps: int = 10) -> Rate:
    """FLOP/s this CPU sustains training the spec's task model at its batch size (counted FLOPs
    of `steps` real optimiser steps over their wall time)."""
    facts = DATASETS[spec.dataset.name]
    torch.manual_seed(0)
    model = build_task_model(spec.task.model, facts.channels, facts.classes, spec.task.model_width)
    opt = torch.optim.Adam(model.parameters())
    x = _input(spec, facts, spec.task.batch_size)
    y = torch.randint(0, facts.classes, (spec.task.batch_size,))

    def step():
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()

    flops = count_flops(step)
    step()  # warm-up
    t = time.perf_counter()
    for _ in range(steps):
        step()
    rate = flops * steps / (time.perf_counter() - t)
    load = os.getloadavg()[0]
    return Rate(
        rate,
        f"this CPU, measured: {rate / 1e9:.3g} GFLOP/s training {spec.task.model} at batch "
        f"{spec.task.batch_size} on {count(torch.get_num_threads(), 'thread')}, load {load:.1f}",
    )


# ----------------------------------------------------------------------------- printing
def _e(x: float) -> str:
    return f"{x:.3g}" if x else "0"


def format_plan(plan: ExperimentPlan, rate: Rate) -> str:
    runs = count(len(plan.runs) * plan.seeds, "run")
    lines = [f"plan: {plan.experiment}: {count(len(plan.runs), 'strategy')} x "
             f"{count(plan.seeds, 'seed')} = {runs}; pool {plan.n:,}"]  # fmt: skip
    lines.append(f"rate: {rate.description}")
    head = "  cycle  labeled  unlabeled  trained img  scored img  " + "  ".join(
        f"{p + ' PF':>9}" for p in PARTS
    )
    total_h = 0.0
    for run in plan.runs:
        hours = run.seconds(rate) / 3600
        total_h += hours * plan.seeds
        lines.append(
            f"{run.strategy}: {count(len(run.cycles), 'cycle')}, {run.flops() / 1e15:.4g} PFLOP and "
            f"{hours:.3g} h per run; x {count(plan.seeds, 'seed')} = {hours * plan.seeds:.3g} h"
        )
        lines.append(head)
        for c in run.cycles:
            parts = "  ".join(f"{_e(c.flops.get(p, 0.0) / 1e15):>9}" for p in PARTS)
            lines.append(
                f"  {c.cycle:>5}  {c.labeled:>7,}  {c.unlabeled:>9,}  {c.trained:>11,}  "
                f"{c.scored:>10,}  {parts}"
            )
        by_part = ", ".join(
            f"{PART_NAMES[p]} {run.seconds(rate, p) / 3600:.3g} h" for p in PARTS if run.flops(p)
        )
        lines.append(f"  hours per run by part: {by_part}")
        lines.extend(f"  note: {n}" for n in run.notes)
    lines.append(f"total: {total_h:.4g} hours ({plan.experiment}, every run)")
    lines.append(
        f"disk: cache {plan.disk_cache / 1e9:.4g} GB (vaal_core.datasets.cache.disk_use, train + "
        f"test); run directories {plan.disk_runs / 1e6:.4g} MB"
    )
    lines.append("assumptions:")
    lines.extend(f"  - {a}" for a in plan.assumptions)
    lines.append("  - PF columns: PFLOP (1e15) per cycle of one run; hours = FLOPs / rate")
    lines.append("  - notes show the last querying cycle's numbers")
    return "\n".join(lines)


def plan_text(
    spec: Spec, strategies: list[str], seeds: list[int], gpu: str, fraction: float
) -> str:
    plan = plan_experiment(spec, strategies, seeds)
    if gpu == "cpu":
        rate = measured_cpu_rate(spec)
    else:
        rate = accelerator_rate(gpu, fraction, spec.runtime.precision)
    return format_plan(plan, rate)
