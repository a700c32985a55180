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
  torchvision's per-sample PIL DataLoader with the same transforms;
- host synchronisations per iteration, counted by torch.profiler (`vaal_core.train.hostsync`): the
  reference reads every loss on the host after its step (`loss.item()`, as the original code
  does); the fast path keeps them on the device and reads once every `runtime.log_every`
  iterations, so a profiled iteration between reads must show 0;
- on CUDA only: seconds per iteration of the fast path eager vs `runtime.compile` (inductor with
  CUDA graphs). This branch has not been run on a GPU by its author (no GPU at hand).
The fast path's precision is bf16 where the CPU has bf16 instructions (AVX512-BF16/AMX) and fp32
elsewhere: on an AVX2-only CPU oneDNN emulates bf16 at 10-30x the fp32 time
(benchmarks/layers_vaal.py); `--bf16` forces a bf16 row to show it.
Images are random uint8 tensors of CIFAR's shape: timings do not depend on pixel values, and
CIFAR cannot be downloaded here.

With `--tensorboard` it measures one thing instead: seconds per iteration of the fast path with
TensorBoard logging off and on (`vaal_core/run/tensorboard.py`: the VAE's loss terms kept on the
device, one read and one event write per `--log-every` iterations), in alternating blocks.

Usage: python benchmarks/bench_vaal.py [--iters 2] [--pool 5000] [--channels-last] [--compile]
       [--bf16]
       python benchmarks/bench_vaal.py --tensorboard [--blocks 3] [--log-every 5]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pathlib
import statistics
import tempfile
import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch.profiler import ProfilerActivity, profile
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

from vaal_core.models import fresh_task_model
from vaal_core.spec import RuntimeSpec, TaskSpec
from vaal_core.train.augment import normalize, random_crop_flip
from vaal_core.train.device import autocast, cpu_model_name, native_bf16
from vaal_core.train.hostsync import LossMeter, host_syncs
from vaal_core.vaal import VAALModels
from vaal_core.vaal.options import VAALOptions

MEAN, STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)
BATCH = 128
CPU = torch.device("cpu")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _time(fn, repeats: int, device: torch.device = CPU, warm: bool = True) -> float:
    if warm:
        fn()  # warm-up: allocator, oneDNN primitive cache, compilation
    _sync(device)
    t = time.perf_counter()
    for _ in range(repeats):
        fn()
    _sync(device)
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
        device: torch.device = CPU,
        host_reads: bool = False,
        vaal_cfg: VAALOptions | None = None,
        task_model: str = "vgg16_bn",
    ):
        self.name, self.encoder_only = name, encoder_only
        self.host_reads = host_reads  # the original: loss.item() after every step
        self.runtime = RuntimeSpec(
            precision=precision, channels_last=channels_last, compile=compile, fused_optimizer=fused
        )
        torch.manual_seed(0)
        self.device = device
        # the paper's VAE and VGG16-bn unless a caller (gpu_check.py --dry-run) asks for toys
        self.vaal = VAALModels(3, vaal_cfg or VAALOptions(), self.runtime, self.device)
        self.task = fresh_task_model(TaskSpec(model=task_model), 3, 10, device)
        if channels_last:
            self.task = self.task.to(memory_format=torch.channels_last)
        if compile:
            self.task = torch.compile(
                self.task, mode="reduce-overhead" if device.type == "cuda" else None
            )
        self.opt = torch.optim.SGD(
            self.task.parameters(),
            lr=0.01,
            momentum=0.9,
            weight_decay=5e-4,
            **({"fused": True} if fused else {}),
        )

    def prep(self, x: torch.Tensor) -> torch.Tensor:
        x = normalize(x.to(self.device), MEAN, STD)
        return x.contiguous(memory_format=torch.channels_last) if self.runtime.channels_last else x

    def task_step(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        self.task.train()
        with autocast(self.device, self.runtime.precision):
            loss = F.cross_entropy(self.task(x), y)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return loss.detach()

    def _steps(self, batches, meter: LossMeter) -> dict[str, object]:
        (x_l, y), x_u = batches
        return {
            "task step": lambda: self._log(meter, task=self.task_step(x_l, y)),
            "2 VAE steps": lambda: [
                self._log(meter, vae=self.vaal.vae_step(x_l, x_u)) for _ in range(2)
            ],
            "disc step": lambda: self._log(
                meter, disc=self.vaal.disc_step(x_l, x_u, self.encoder_only)
            ),
        }

    def _log(self, meter: LossMeter, **loss: torch.Tensor) -> None:
        if self.host_reads:  # the reference: each loss to the host right after its step
            for v in loss.values():
                v.item()
        else:
            meter.add(**loss)

    def iteration(self, batches, meter: LossMeter) -> None:
        for step in self._steps(batches, meter).values():
            step()

    def syncs_per_iteration(self, batches) -> tuple[int, int]:
        """(host syncs in one profiled iteration, of them inside optimiser.step) after a warm-up.

        Inside optimiser.step are the per-tensor optimisers' reads of their CPU step counters:
        host reads of host memory even on a GPU, counted apart.
        """
        meter = LossMeter(self.device)
        self.iteration(batches, meter)  # warm-up (and compilation)
        _sync(self.device)
        acts = [ProfilerActivity.CPU] + (
            [ProfilerActivity.CUDA] if self.device.type == "cuda" else []
        )
        with profile(activities=acts) as prof:
            self.iteration(batches, meter)
        count = host_syncs(prof.events())
        in_opt = sum(1 for e in count.events if _under(e, "Optimizer.step"))
        return count.outside, in_opt

    def components(self, batches, repeats: int) -> dict[str, float]:
        meter = LossMeter(self.device)
        return {
            name: _time(fn, repeats, self.device, warm=False)  # warmed by syncs_per_iteration
            for name, fn in self._steps(batches, meter).items()
        }

    def compiled_vs_eager(self, batches, repeats: int) -> float:
        """Seconds per whole iteration (CUDA timing: synchronised before and after)."""
        meter = LossMeter(self.device)
        return _time(lambda: self.iteration(batches, meter), repeats, self.device)

    def score_rate(self, pool: torch.Tensor, batch: int) -> float:
        def run():
            chunks = (self.prep(pool[s : s + batch]) for s in range(0, len(pool), batch))
            return self.vaal.score(chunks, len(pool), encoder_only=self.encoder_only)

        run_s = _time(run, 1, self.device)
        return len(pool) / run_s


def logging_cost(
    device: torch.device, precision: str, blocks: int, log_every: int, small: bool = False
) -> None:
    """Seconds per iteration of the fast path, TensorBoard logging off and on, alternating
    blocks of `log_every` iterations (each block ends with the one read, and the one event
    write when on), so drift in the machine's speed falls on both alike. `small`: small_cnn and
    a VAE of width 16, where a fixed logging cost weighs most (an upper bound for the paper's)."""
    from vaal_core.run import tensorboard

    g = torch.Generator().manual_seed(0)
    pool = torch.randint(0, 256, (2 * BATCH, 3, 32, 32), dtype=torch.uint8, generator=g)
    labels = torch.randint(0, 10, (BATCH,), generator=g)
    models = {"vaal_cfg": VAALOptions(width=16), "task_model": "small_cnn"} if small else {}
    p = Path(f"fast ({precision})", precision, True, True, device=device, **models)
    (x_l, y), x_u = (p.prep(pool[:BATCH]), labels.to(device)), p.prep(pool[BATCH:])
    times: dict[bool, list[float]] = {False: [], True: []}

    def block(on: bool, it0: int) -> float:
        p.vaal.keep_terms = on
        meter = LossMeter(device)
        _sync(device)
        t = time.perf_counter()
        for i in range(it0, it0 + log_every):
            meter.add(task=p.task_step(x_l, y))
            for _ in range(2):
                meter.add(vae=p.vaal.vae_step(x_l, x_u), **p.vaal.last_terms)
            meter.add(disc=p.vaal.disc_step(x_l, x_u))
            if (i + 1) % log_every == 0:
                window = meter.read()  # the training loop reads either way
                if on:
                    tensorboard.vaal_window(i + 1, window)
        _sync(device)
        return (time.perf_counter() - t) / log_every

    with tempfile.TemporaryDirectory() as logdir, _tensorboard_on():
        with tensorboard.run_log(logdir, 0, []), tensorboard.phase("query", 0):
            block(False, 0), block(True, 0)  # warm-up: allocator, oneDNN, the writer's file
            for b in range(blocks):
                for on in (False, True) if b % 2 == 0 else (True, False):
                    times[on].append(block(on, (1 + 2 * b + on) * log_every))
        events = len(list(pathlib.Path(logdir).rglob("events.out.tfevents.*")))
    what = "small_cnn + VAE width 16" if small else "VGG16-bn + VAE width 128"
    print(
        f"\n| {what}, a read every {log_every} iterations | fastest block s / it "
        f"| median s / it ({blocks} blocks) |"
    )
    print("|---|---|---|")
    for on, name in ((False, "logging off"), (True, "TensorBoard on")):
        print(f"| {name} | {min(times[on]):.4f} | {statistics.median(times[on]):.4f} |")
    # the fastest block is the one least disturbed by other work on the machine
    ratio = min(times[True]) / min(times[False])
    median = statistics.median(times[True]) / statistics.median(times[False])
    print(f"\nratio on / off: {ratio:.3f} fastest, {median:.3f} median ({events} event files)")


@contextlib.contextmanager
def _tensorboard_on():
    from vaal_core.run.tensorboard import ENV

    before = os.environ.get(ENV)
    os.environ[ENV] = "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(ENV)
        else:
            os.environ[ENV] = before


def _under(event, prefix: str) -> bool:
    parent = event.cpu_parent
    while parent is not None:
        if parent.name.startswith(prefix):
            return True
        parent = parent.cpu_parent
    return False


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
    ap.add_argument("--bf16", action="store_true", help="also time a bf16 row on any CPU")
    ap.add_argument(
        "--quick",
        action="store_true",
        help="one timed iteration per path, no warm-up (first-call costs are milliseconds against "
        "minutes per iteration on a small CPU); syncs profiled at batch 8 (the same op sequence)",
    )
    ap.add_argument(
        "--only", default=None, help="comma-separated path numbers to run (0 = reference)"
    )
    ap.add_argument(
        "--tensorboard",
        action="store_true",
        help="only time the fast path with TensorBoard logging off vs on (needs tensorboard)",
    )
    ap.add_argument("--blocks", type=int, default=3, help="--tensorboard: off/on block pairs")
    ap.add_argument(
        "--log-every", type=int, default=5, help="--tensorboard: iterations per read and write"
    )
    ap.add_argument(
        "--small",
        action="store_true",
        help="--tensorboard: small_cnn and a VAE of width 16 (an upper bound on the cost)",
    )
    args = ap.parse_args()

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if args.tensorboard:
        try:
            import tensorboard  # noqa: F401
        except ImportError:
            print("# TensorBoard logging cost: skipped (pip install tensorboard to measure it)")
            return
        where = torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_model_name()
        fast = "bf16" if native_bf16(device) else "fp32"
        print(
            f"# TensorBoard logging cost: {where}, torch {torch.__version__}, "
            f"{torch.get_num_threads()} threads, batch {BATCH}, 3x32x32"
        )
        logging_cost(device, fast, args.blocks, args.log_every, args.small)
        return
    g = torch.Generator().manual_seed(0)
    pool = torch.randint(0, 256, (args.pool, 3, 32, 32), dtype=torch.uint8, generator=g)
    labels = torch.randint(0, 10, (args.pool,), generator=g)
    fast = "bf16" if native_bf16(device) else "fp32"

    paths = [
        Path(
            "reference (fp32, whole VAE, per-tensor optimiser, loss.item() per step)",
            "fp32",
            encoder_only=False,
            fused=False,
            device=device,
            host_reads=True,
        ),
        Path(
            f"fast ({fast}, encoder-only mu, fused optimiser, losses on device)",
            fast,
            encoder_only=True,
            fused=True,
            device=device,
        ),
    ]
    if args.channels_last:
        paths.append(
            Path("fast + channels_last", fast, True, True, channels_last=True, device=device)
        )
    if args.bf16 and fast != "bf16":
        paths.append(Path("fast in bf16 (emulated here)", "bf16", True, True, device=device))
    if args.compile:
        paths.append(Path("fast + runtime.compile", fast, True, True, compile=True, device=device))

    if args.only is not None:
        keep = {int(i) for i in args.only.split(",")}
        paths = [p for i, p in enumerate(paths) if i in keep]
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_model_name()
    print(
        f"# VAAL benchmark: {where}, torch {torch.__version__}, {torch.get_num_threads()} "
        f"threads, batch {BATCH}, latent 32, VGG16-bn, 3x32x32"
    )
    rows = []
    for p in paths:
        batches = (
            (p.prep(pool[:BATCH]), labels[:BATCH].to(device)),
            p.prep(pool[BATCH : 2 * BATCH]),
        )
        if args.quick:
            small = ((p.prep(pool[:8]), labels[:8].to(device)), p.prep(pool[8:16]))
            syncs = p.syncs_per_iteration(small)
            comp = p.components(batches, 1)
        else:
            syncs = p.syncs_per_iteration(batches)
            comp = p.components(batches, args.iters)
        score_batch = BATCH if not p.encoder_only else 1024
        rows.append((p.name, comp, sum(comp.values()), p.score_rate(pool, score_batch), syncs))
        print(f"  measured {p.name}", flush=True)
    pil_rate, tensor_rate = data_path_rates(pool, labels)

    ref = rows[0]  # with --only, speed-ups are against the first path run
    print()
    print(
        "| path | task step s | 2 VAE steps s | disc step s | s / iteration | speed-up "
        "| scoring img/s | speed-up | host syncs / iteration (in optimiser.step) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, comp, total, rate, (n_sync, in_opt) in rows:
        c = list(comp.values())
        print(
            f"| {name} | {c[0]:.2f} | {c[1]:.2f} | {c[2]:.3f} | {total:.2f} | {ref[2] / total:.2f}x "
            f"| {rate:.0f} | {rate / ref[3]:.1f}x | {n_sync} ({in_opt}) |"
        )
    print(
        "\nfast paths read the losses once every runtime.log_every iterations (default 50): "
        "one device-to-host copy per read, outside the profiled iteration."
    )

    if device.type == "cuda":  # eager vs compiled (CUDA graphs), whole iterations
        eager = Path("eager", fast, True, True, device=device)
        comp_ = Path("compiled", fast, True, True, compile=True, device=device)
        print()
        print("| fast path on CUDA | s / iteration | speed-up |")
        print("|---|---|---|")
        times = {}
        for p in (eager, comp_):
            batches = (
                (p.prep(pool[:BATCH]), labels[:BATCH].to(device)),
                p.prep(pool[BATCH : 2 * BATCH]),
            )
            p.compiled_vs_eager(batches, 3)  # compilation, CUDA graph recording
            times[p.name] = p.compiled_vs_eager(batches, max(args.iters, 20))
        for name, t in times.items():
            print(f"| {name} | {t:.4f} | {times['eager'] / t:.2f}x |")

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
