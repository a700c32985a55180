"""VAAL speed at the paper's CIFAR configuration: reference path vs the suite's fast path.

Measures, in one process and one run (so the ratios are comparable):
- seconds per VAAL training iteration = one VGG16-bn task step + num_vae_steps VAE steps + one
  discriminator step, batch 128, latent 32, 3x32x32 images;
  reference = fp32 eager, NCHW, the whole VAE (decoder included) run wherever mu is needed, as
  the original code computes it, optimisers stepping tensor by tensor; fast = the suite's default
  (encoder alone for mu, bf16 autocast, fused optimiser steps);
- pool-scoring images/s (reference: whole VAE fp32 at batch 128; fast: encoder only, bf16,
  batch 1024, inference_mode);
- data-path images/s: the suite's batched uint8 tensor pipeline (crop+flip+normalise) against
  torchvision's per-sample PIL DataLoader with the same transforms.
Images are random uint8 tensors of CIFAR's shape: timings do not depend on pixel values, and
CIFAR cannot be downloaded here.

Usage: python benchmarks/bench_vaal.py [--iters 2] [--pool 5000] [--channels-last] [--compile]
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

from vaal_core.augment import normalize, random_crop_flip
from vaal_core.device import autocast
from vaal_core.models import build_task_model
from vaal_core.spec import RuntimeSpec, VAALSpec
from vaal_core.vaal import VAALModels

MEAN, STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)
BATCH = 128


def _time(fn, repeats: int) -> float:
    fn()  # warm-up: allocator, oneDNN primitive cache
    t = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - t) / repeats


class Path:
    """One way of running VAAL's compute: precision, memory format, encoder-only or whole VAE."""

    def __init__(
        self,
        name: str,
        precision: str,
        encoder_only: bool,
        fused: bool,
        channels_last=False,
        compile=False,
    ):
        self.name, self.encoder_only = name, encoder_only
        self.runtime = RuntimeSpec(
            precision=precision, channels_last=channels_last, compile=compile, fused_optimizer=fused
        )
        torch.manual_seed(0)
        self.device = torch.device("cpu")
        self.vaal = VAALModels(3, VAALSpec(), self.runtime, self.device)
        self.task = build_task_model("vgg16_bn", 3, 10)
        if channels_last:
            self.task = self.task.to(memory_format=torch.channels_last)
        if compile:
            self.task = torch.compile(self.task)
        self.opt = torch.optim.SGD(
            self.task.parameters(),
            lr=0.01,
            momentum=0.9,
            weight_decay=5e-4,
            **({"fused": True} if fused else {}),
        )

    def prep(self, x: torch.Tensor) -> torch.Tensor:
        x = normalize(x, MEAN, STD)
        return x.contiguous(memory_format=torch.channels_last) if self.runtime.channels_last else x

    def task_step(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.task.train()
        with autocast(self.device, self.runtime.precision):
            loss = F.cross_entropy(self.task(x), y)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()

    def components(self, batches, repeats: int) -> dict[str, float]:
        (x_l, y), x_u = batches
        return {
            "task step": _time(lambda: self.task_step(x_l, y), repeats),
            "2 VAE steps": _time(lambda: [self.vaal.vae_step(x_l, x_u) for _ in range(2)], repeats),
            "disc step": _time(lambda: self.vaal.disc_step(x_l, x_u, self.encoder_only), repeats),
        }

    def score_rate(self, pool: torch.Tensor, batch: int) -> float:
        def run():
            chunks = (self.prep(pool[s : s + batch]) for s in range(0, len(pool), batch))
            return self.vaal.score(chunks, encoder_only=self.encoder_only)

        run_s = _time(run, 1)
        return len(pool) / run_s


class PILImages(Dataset):
    """What torchvision's CIFAR10 does per item: numpy HWC uint8 -> PIL -> transforms."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, transform):
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        return self.transform(Image.fromarray(self.images[i])), int(self.labels[i])


def data_path_rates(pool: torch.Tensor, labels: torch.Tensor) -> tuple[float, float]:
    tf = transforms.Compose(
        [
            transforms.RandomCrop(32, padding=4),
            transforms.RandomHorizontalFlip(),
            transforms.ToTensor(),
            transforms.Normalize(MEAN, STD),
        ]
    )
    ds = PILImages(pool.permute(0, 2, 3, 1).numpy(), labels.numpy(), tf)
    loader = DataLoader(ds, batch_size=BATCH, shuffle=True, num_workers=0)

    def pil():
        for _x, _y in loader:
            pass

    gen = torch.Generator().manual_seed(0)

    def tensors():
        order = torch.randperm(len(pool), generator=gen)
        for s in range(0, len(pool), BATCH):
            idx = order[s : s + BATCH]
            normalize(random_crop_flip(pool[idx], gen), MEAN, STD)
            labels[idx]

    return len(pool) / _time(pil, 1), len(pool) / _time(tensors, 3)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--iters", type=int, default=2, help="timed repeats per component (after 1 warm-up)"
    )
    ap.add_argument("--pool", type=int, default=5000, help="images scored / loaded")
    ap.add_argument(
        "--channels-last", action="store_true", help="also time fast path + channels_last"
    )
    ap.add_argument(
        "--compile", action="store_true", help="also time fast path + torch.compile (slow to build)"
    )
    args = ap.parse_args()

    g = torch.Generator().manual_seed(0)
    pool = torch.randint(0, 256, (args.pool, 3, 32, 32), dtype=torch.uint8, generator=g)
    labels = torch.randint(0, 10, (args.pool,), generator=g)

    paths = [
        Path(
            "reference (fp32, whole VAE, per-tensor optimiser)",
            "fp32",
            encoder_only=False,
            fused=False,
        ),
        Path(
            "fast (bf16, encoder-only mu, fused optimiser)", "bf16", encoder_only=True, fused=True
        ),
    ]
    if args.channels_last:
        paths.append(Path("fast + channels_last", "bf16", True, True, channels_last=True))
    if args.compile:
        paths.append(Path("fast + torch.compile", "bf16", True, True, compile=True))

    print(f"# VAAL benchmark: {platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, batch {BATCH}, latent 32, VGG16-bn, 3x32x32")  # fmt: skip
    rows = []
    for p in paths:
        batches = ((p.prep(pool[:BATCH]), labels[:BATCH]), p.prep(pool[BATCH : 2 * BATCH]))
        comp = p.components(batches, args.iters)
        score_batch = BATCH if not p.encoder_only else 1024
        rows.append((p.name, comp, sum(comp.values()), p.score_rate(pool, score_batch)))
        print(f"  measured {p.name}", flush=True)
    pil_rate, tensor_rate = data_path_rates(pool, labels)

    ref = rows[0]
    print()
    print(
        "| path | task step s | 2 VAE steps s | disc step s | s / iteration | speed-up | scoring img/s | speed-up |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, comp, total, rate in rows:
        c = list(comp.values())
        print(f"| {name} | {c[0]:.2f} | {c[1]:.2f} | {c[2]:.3f} | {total:.2f} | {ref[2] / total:.2f}x "
              f"| {rate:.0f} | {rate / ref[3]:.1f}x |")  # fmt: skip
    print()
    print("| data path | images/s | speed-up |")
    print("|---|---|---|")
    print(
        f"| torchvision PIL DataLoader (RandomCrop+Flip+ToTensor+Normalize, 0 workers) | {pil_rate:.0f} | 1.0x |"
    )
    print(
        f"| batched uint8 tensors (crop+flip+normalise) | {tensor_rate:.0f} | {tensor_rate / pil_rate:.1f}x |"
    )


if __name__ == "__main__":
    main()
