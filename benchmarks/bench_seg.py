"""Segmentation costs: DRN-D-22 training step, per-image query cost of each segmentation strategy,
and the GPU-hours of `make reproduce-cityscapes` / `make reproduce-bdd100k` they imply.

Three tables, one run:
1. Measured on this machine (CPU, or CUDA when present): seconds per DRN-D-22 training step
   (forward, backward, SGD step) at the spec's crop, per image; and per-image query seconds of
   each strategy at the spec's evaluation frame, through the real scoring functions
   (`vaal_core/tasks/segmentation.py`, VAAL's encoder): random (a seeded draw), coreset (one trunk
   pass; the k-center greedy is negligible next to it), mc_dropout and qbc (trunk once + T head
   passes, shared), vaal (VAE encoder at vaal.image_size after the resize), suggestive_annotation
   (M member passes + one descriptor pass; its M members' TRAINING is listed separately).
   Inputs are random tensors of the spec's shapes (costs do not depend on pixel values).
2. Forward GFLOP per image (counted with torch.utils.flop_counter on the meta device).
3. GPU-hours per strategy x 5 seeds for the shipped spec, from the FLOP counts: training = 3x
   forward, at an ASSUMED sustained 150 TFLOP/s (about 15% of an H100's dense bf16 peak, the
   same assumption as the README's classification table). A CUDA run of table 1 replaces the
   assumption with measured seconds.

Usage: python benchmarks/bench_seg.py [--spec experiments/cityscapes.yaml] [--scale 0.25]
       [--batch 2] [--reps 2]
`--scale` shrinks the crop and frame for a slow CPU (table 1 says which shapes it measured);
tables 2 and 3 always use the spec's shapes.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from baselines.mc_dropout import MCOptions
from baselines.suggestive import SuggestiveOptions
from vaal_core.models.drn import DRNSeg
from vaal_core.spec import Spec, load_spec
from vaal_core.tasks.segmentation import gap_embeddings, seg_ensemble_variance, seg_mc_scores
from vaal_core.train.device import cpu_model_name
from vaal_core.vaal import VAE
from vaal_core.vaal.options import VAALOptions

ASSUMED_TFLOPS = 150.0
POOL = {"cityscapes": (2975, 500), "bdd100k": (7000, 1000)}  # (train, val) images


class _Frames:
    """Random uint8 frames behind the `Batches` interface (images and masks by index)."""

    task_kind = "segmentation"
    num_classes, channels = 19, 3
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    augment_presets = {"standard": "seg_crop_flip"}
    storage = "memory"

    def __init__(self, n: int, h: int, w: int, crop: int):
        g = torch.Generator().manual_seed(0)
        self.x = torch.randint(0, 256, (n, 3, h, w), dtype=torch.uint8, generator=g)
        self.y = torch.randint(0, 19, (n, h, w), dtype=torch.uint8, generator=g)
        self.image_size = crop

    train_y = test_y = property(lambda self: torch.zeros(len(self.x), dtype=torch.long))

    def labels(self, split):
        return self.train_y

    def read(self, split, idx):
        return self.x[torch.as_tensor(idx).cpu()]

    def read_masks(self, split, idx):
        return self.y[torch.as_tensor(idx).cpu()]


def flops(model: torch.nn.Module, shape: tuple[int, ...], fn=None) -> float:
    """Forward FLOPs of one call on the meta device."""
    with torch.device("meta"):
        x = torch.empty(shape)
    with FlopCounterMode(display=False) as fc:
        (fn or model)(x)
    return fc.get_total_flops()


def timed(fn, reps: int, device: torch.device) -> float:
    fn()  # warm-up
    if device.type == "cuda":
        torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(reps):
        fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - t) / reps


def measure(spec: Spec, scale: float, batch: int, reps: int, device: torch.device):
    from vaal_core.train.batches import Batches

    crop = max(8, round(spec.dataset.image_size * scale / 8) * 8)
    h = max(8, round(spec.dataset.cache_resolution * scale / 8) * 8)
    w = round(h * (2.0 if spec.dataset.name == "cityscapes" else 16 / 9) / 8) * 8
    data = _Frames(max(batch, 4), h, w, crop)
    batches = Batches(data, device, augmentation="standard")
    model = DRNSeg(3, 19).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    gen = torch.Generator().manual_seed(0)
    idx = torch.arange(batch)

    def step():
        x, y = batches.train_batch(idx, True, gen)
        loss = batches.kind.loss(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    rows = [
        ("DRN-D-22 training step (per image)", f"{crop}x{crop}", timed(step, reps, device) / batch)
    ]
    one = np.array([0])
    rt = spec.runtime.__class__(precision="fp32")
    samples = spec.baselines.options(MCOptions, "").mc_samples
    t_mc = timed(lambda: seg_mc_scores(model, batches, one, 1, rt, samples, 0, None), reps, device)
    t_gap = timed(lambda: gap_embeddings(model, batches, one, 1, rt), reps, device)
    members = [
        DRNSeg(3, 19).to(device)
        for _ in range(spec.baselines.options(SuggestiveOptions, "sa_").ensemble_size)
    ]
    t_sa = timed(lambda: seg_ensemble_variance(members, batches, one, 1, rt, None), reps, device)
    v = VAALOptions.of(spec)
    vae = VAE(3, v.latent_dim, v.image_size, v.width).to(device).eval()

    @torch.inference_mode()
    def vaal_score():
        x = batches.images(one)
        x = torch.nn.functional.interpolate(
            x, size=(v.image_size,) * 2, mode="bilinear", antialias=True
        )
        vae.encode(x)

    t_vaal = timed(vaal_score, reps, device)
    rng = np.random.default_rng(0)
    t_rand = timed(lambda: rng.choice(2975, 149, replace=False), reps, device) / 2975
    frame = f"{h}x{w}"
    rows += [
        ("query: random (per pool image)", frame, t_rand),
        ("query: coreset (trunk pass)", frame, t_gap),
        (f"query: mc_dropout / qbc (trunk + {samples} heads)", frame, t_mc),
        (f"query: vaal (encoder at {v.image_size})", frame, t_vaal),
        (
            f"query: suggestive_annotation ({len(members)} members + descriptor)",
            frame,
            t_sa + t_gap,
        ),
    ]
    return rows


def gpu_hours(spec: Spec) -> tuple[list[tuple[str, float]], dict[str, float]]:
    """(strategy, GPU-hours for all seeds) from FLOP counts at ASSUMED_TFLOPS."""
    d, a, v = spec.dataset, spec.active, VAALOptions.of(spec)
    n_train, n_val = POOL[d.name]
    h = d.cache_resolution
    w = round(h * (2.0 if d.name == "cityscapes" else 16 / 9))
    with torch.device("meta"):
        model = DRNSeg(3, 19)
        vae = VAE(3, v.latent_dim, v.image_size, v.width)
    g = {
        "train_crop": flops(model, (1, 3, d.image_size, d.image_size)),
        "frame": flops(model, (1, 3, h, w)),
        "vae": flops(vae, (1, 3, v.image_size, v.image_size), lambda x: vae(x)),
        "vae_enc": flops(vae, (1, 3, v.image_size, v.image_size), lambda x: vae.encode(x)),
    }
    labeled = [a.initial + a.budget * c for c in range(a.cycles)]
    unlabeled = [n_train - n for n in labeled[:-1]]
    train = sum(labeled) * spec.task.epochs * 3 * g["train_crop"]  # epochs over the labeled set
    evals = a.cycles * n_val * g["frame"]
    base = train + evals
    if v.match_task_iterations:  # one VAAL iteration per task step of the cycle
        vaal_iters = [math.ceil(n * spec.task.epochs / spec.task.batch_size) for n in labeled[:-1]]
    else:
        vaal_iters = [math.ceil(v.epochs * n_train / v.batch_size)] * (a.cycles - 1)
    # per iteration: num_vae_steps x (VAE fwd+bwd on 2 batches) + a discriminator step (encoder)
    vaal_train = (
        sum(vaal_iters)
        * v.batch_size
        * 2
        * (v.num_vae_steps * 3 * g["vae"] + v.num_adv_steps * g["vae_enc"])
    )
    m = spec.baselines.options(SuggestiveOptions, "sa_").ensemble_size
    per_strategy = {
        "random": base,
        "coreset": base + n_train * (a.cycles - 1) * g["frame"],
        # T heads are ~1% of a trunk pass in FLOPs, but their full-resolution softmax and votes
        # are memory-bound: counted as 3 trunk passes (measured 2.8x on the CPU, table 1)
        "mc_dropout": base + 3 * sum(unlabeled) * g["frame"],
        "qbc": base + 3 * sum(unlabeled) * g["frame"],
        "vaal": base + vaal_train + sum(unlabeled) * g["vae_enc"],
        # M members trained on each query cycle's labeled set, M passes + 1 descriptor pass
        "suggestive_annotation": base
        + m * sum(labeled[:-1]) * spec.task.epochs * 3 * g["train_crop"]
        + (m + 1) * sum(unlabeled) * g["frame"],
        # the top-line: one cycle of the recipe on the whole training set, one evaluation
        "full": n_train * spec.task.epochs * 3 * g["train_crop"] + n_val * g["frame"],
    }
    seeds = len(spec.seeds)
    rows = [(s, f * seeds / (ASSUMED_TFLOPS * 1e12) / 3600) for s, f in per_strategy.items()]
    return rows, {k: v / 1e9 for k, v in g.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--spec", default="experiments/cityscapes.yaml")
    p.add_argument("--scale", type=float, default=1.0, help="shrink crop and frame (slow CPUs)")
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--reps", type=int, default=2)
    p.add_argument("--estimate-only", action="store_true", help="skip table 1 (no compute)")
    args = p.parse_args()
    spec = load_spec(args.spec)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    where = torch.cuda.get_device_name() if device.type == "cuda" else cpu_model_name()
    print(
        f"# {spec.experiment}: DRN-D-22 on {where}, torch {torch.__version__}, "
        f"threads {torch.get_num_threads()}, fp32, batch {args.batch}\n"
    )
    if not args.estimate_only:
        print("| measured | shape | s / image |\n|---|---|---|")
        for name, shape, s in measure(spec, args.scale, args.batch, args.reps, device):
            print(f"| {name} | {shape} | {s:.4g} |")
    rows, g = gpu_hours(spec)
    print("\n| forward GFLOP / image | value |\n|---|---|")
    for k, val in g.items():
        print(f"| {k} | {val:.1f} |")
    print(f"\n| strategy ({len(spec.seeds)} seeds, {ASSUMED_TFLOPS:.0f} TFLOP/s assumed) | GPU-h |")
    print("|---|---|")
    for s, hours in rows:
        print(f"| {s} | {hours:.1f} |")
    print(f"| **total** | **{sum(h for _, h in rows):.0f}** |")


if __name__ == "__main__":
    main()
