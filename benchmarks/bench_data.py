"""The large-dataset data path: cache build, cache reads vs a JPEG DataLoader, flat memory; GPU costs.

CPU part (always):
1. generates `--jpegs` JPEGs (varied sizes, ImageFolder layout, 10 classes) in a temp folder;
2. cache build images/s: `build_cache` (PIL decode + resize + centre crop, a process pool);
3. training-read images/s: random batches of the cache through `Batches` (pread, batched
   random-resized-crop + flip + normalise) against torchvision's `ImageFolder` + `DataLoader`
   (PIL decode, RandomResizedCrop + RandomHorizontalFlip + ToTensor + Normalize), same workers;
4. peak RSS of a process that reads 5,000 vs 20,000 cached images once each in random batches
   (each reader is its own subprocess, so `ru_maxrss` is its own), through the suite's pread
   reader and, for contrast, through indexing an `np.memmap`.
GPU part (only with CUDA; written carefully but untested on a GPU so far): per dataset config,
seconds of one VAAL iteration and of one task step (and a task epoch over the first labeled set,
extrapolated from the step time); and the estimated GPU-hours of each `make reproduce-<dataset>`.
Without CUDA the estimate uses FLOP counts and an assumed sustained GPU throughput, and says so.

Usage: python benchmarks/bench_data.py [--jpegs 3000] [--size 64] [--workers 2] [--batch 256]
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from vaal_core.datasets.cache import (  # noqa: E402
    ArraySource,
    CachedData,
    CacheKey,
    CacheReader,
    FileSource,
    build_cache,
    source_hash,
)
from vaal_core.train.batches import Batches  # noqa: E402
from vaal_core.train.device import cpu_model_name as cpu_name  # noqa: E402

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def make_jpegs(folder: Path, n: int, seed: int = 0) -> None:
    """Smooth random images (they compress like photos, unlike white noise), 120-200 px sides."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    for i in range(n):
        h, w = (int(v) for v in rng.integers(120, 200, 2))
        small = rng.integers(0, 256, (h // 8 + 1, w // 8 + 1, 3), dtype=np.uint8)
        img = Image.fromarray(small).resize((w, h), Image.BILINEAR)
        d = folder / f"class{i % 10}"
        d.mkdir(parents=True, exist_ok=True)
        img.save(d / f"{i:06d}.jpg", quality=90)


def bench_build(
    folder: Path, cache_root: Path, res: int, workers: int
) -> tuple[CacheReader, float]:
    from torchvision.datasets import ImageFolder

    ds = ImageFolder(str(folder))
    paths = [str(Path(p).relative_to(folder)) for p, _ in ds.samples]
    src = FileSource(folder, paths, np.asarray(ds.targets))
    key = CacheKey("bench", "train", res, source_hash(src.fingerprint_items()))
    t = time.perf_counter()
    out = build_cache(src, key, cache_root, workers=workers, progress=False)
    return CacheReader(out), len(src) / (time.perf_counter() - t)


def bench_cache_read(
    reader: CacheReader, size: int, batch: int, epochs: int, device: torch.device | None = None
) -> float:
    """Images/s of augmented training batches read from the cache (on `device`, default CPU)."""
    device = device or torch.device("cpu")
    # on CUDA, `.to(device)` makes the reads land in pinned buffers (CachedData.read)
    data = CachedData("bench", reader, reader, 10, MEAN, STD, size).to(device)
    b = Batches(data, device, augmentation="rrc_flip")
    g = torch.Generator().manual_seed(0)
    n = len(reader)
    b.images(np.arange(batch), augment=True, generator=g)  # warm-up
    t, seen = time.perf_counter(), 0
    for _ in range(epochs):
        order = torch.randperm(n, generator=g)
        for s in range(0, n, batch):
            x = b.images(order[s : s + batch], augment=True, generator=g)
            seen += len(x)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return seen / (time.perf_counter() - t)


def bench_imagefolder(folder: Path, size: int, batch: int, workers: int, epochs: int) -> float:
    from torch.utils.data import DataLoader
    from torchvision import transforms
    from torchvision.datasets import ImageFolder

    tf = transforms.Compose(
        [
            transforms.RandomResizedCrop(size),
            transforms.RandomHorizontalFlip(),
            transforms.ToTensor(),
            transforms.Normalize(MEAN, STD),
        ]
    )
    loader = DataLoader(
        ImageFolder(str(folder), tf),
        batch_size=batch,
        shuffle=True,
        num_workers=workers,
        persistent_workers=workers > 0,
    )
    next(iter(loader))  # warm-up: worker start
    t, seen = time.perf_counter(), 0
    for _ in range(epochs):
        for x, _ in loader:
            seen += len(x)
    return seen / (time.perf_counter() - t)


# ----------------------------------------------------------------------------- RSS (subprocess)
def rss_reader(folder: str, n: int, batch: int, how: str) -> None:
    """Read the first n cached images once each in random batches; print peak RSS in MB."""
    reader = CacheReader(Path(folder))
    rng = np.random.default_rng(0)
    order = rng.permutation(n)
    if how == "pread":
        for s in range(0, n, batch):
            reader.read(order[s : s + batch]).float().mean()
    else:
        mm = np.load(Path(folder) / "images.npy", mmap_mode="r")
        for s in range(0, n, batch):
            idx = np.sort(order[s : s + batch])
            torch.from_numpy(mm[idx]).float().mean()
    print(peak_rss_mb())


def peak_rss_mb() -> float:
    """VmHWM: this process image's peak RSS (ru_maxrss would inherit the parent's peak across
    fork+exec on Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_rss(cache_root: Path, res: int, sizes: list[int], batch: int) -> dict:
    n = max(sizes)
    imgs = np.random.default_rng(1).integers(0, 256, (n, res, res, 3), dtype=np.uint8)
    src = ArraySource(imgs, np.zeros(n, dtype=np.int64), [("synthetic", n)])
    folder = build_cache(
        src, CacheKey("rss", "train", res, "synthetic"), cache_root, workers=1, progress=False
    )
    del imgs, src
    out = {}
    for how in ("pread", "memmap"):
        for k in sizes:
            r = subprocess.run(
                [sys.executable, __file__, "--rss-reader", str(folder), str(k), str(batch), how],
                capture_output=True,
                text=True,
                check=True,
            )
            out[(how, k)] = float(r.stdout.strip().splitlines()[-1])
    return out


# ----------------------------------------------------------------------------- GPU part / estimate
CONFIGS = {
    # dataset: (task model, classes, task image size, vaal image size, train N, test N, budgets)
    "cifar10": ("vgg16_bn", 10, 32, 32, 50000, 10000, (5000, 2500, 7)),
    "cifar100": ("vgg16_bn", 100, 32, 32, 50000, 10000, (5000, 2500, 7)),
    "caltech256": ("resnet18", 256, 224, 64, 23700, 6080, (2370, 1185, 7)),
    "imagenet": ("resnet18", 1000, 224, 64, 1281167, 50000, (128120, 64060, 5)),
}
VAAL_EPOCHS = {
    "cifar10": 100,
    "cifar100": 100,
    "caltech256": 100,
    "imagenet": 2,
}  # the specs' vaal.epochs
BATCH = 128
SEEDS, STRATEGIES = 5, 6
ENSEMBLE = 5  # members of ensemble_varr (assumed; the baseline's spec decides)
ASSUMED_TFLOPS = (
    150.0  # sustained bf16 training throughput assumed without a GPU (H100 ~15% of peak)
)


def fwd_flops(model: torch.nn.Module, shape: tuple[int, ...]) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as fc, torch.no_grad():
        model.eval()(torch.zeros(shape))
    return fc.get_total_flops() / shape[0]


def vae_flops(vaal_size: int) -> float:
    from vaal_core.vaal import VAE

    return fwd_flops(VAE(3, 32, vaal_size, 128), (1, 3, vaal_size, vaal_size))


def work_per_run(ds: str, protocol: str) -> dict:
    """Task steps, VAAL iterations and pool images scored per (strategy, seed) run, per protocol."""
    _, _, _, _, n_train, n_test, (initial, budget, cycles) = CONFIGS[ds]
    labeled = [initial + c * budget for c in range(cycles)]
    if protocol == "paper":
        steps = [100000] * cycles
    elif protocol == "release":
        steps = [n_train * 100 // BATCH] * cycles
    else:  # modern: 200 epochs of the labeled set
        steps = [200 * math.ceil(n / BATCH) for n in labeled]
    vaal = (
        steps[:-1]
        if protocol in ("paper", "release")
        else [  # modern: vaal.epochs of the pool
            math.ceil(VAAL_EPOCHS[ds] * n_train / BATCH) for _ in labeled[:-1]
        ]
    )
    pool = [n_train - n for n in labeled[:-1]]
    # the top-line (`full`): one cycle of the protocol's recipe on the whole training set
    full = {"paper": 100000, "release": n_train * 100 // BATCH}.get(
        protocol, 200 * math.ceil(n_train / BATCH)
    )
    return {
        "task_steps": sum(steps),
        "vaal_iters": sum(vaal),
        "pool_images": sum(pool),
        "test_images": n_test * cycles,
        "full_steps": full,
    }


def gpu_hours(ds: str, protocol: str, t_step: float, t_vaal: float, t_fwd_img: float) -> float:
    """All strategies x seeds: 6 task-training streams (+4 extra ensemble members), VAAL's own
    training, one pool pass for scoring strategies (20 for the MC-dropout ones), test passes,
    and the full-data top-line (`full`: one cycle on the whole training set per seed)."""
    w = work_per_run(ds, protocol)
    task_runs = STRATEGIES + (ENSEMBLE - 1)
    pool_passes = 1 * 3 + 20 * 2  # vaal/coreset/ensemble-ish once; mc_dropout & dbal ~20 samples
    sec = (
        task_runs * w["task_steps"] * t_step
        + w["vaal_iters"] * t_vaal
        + (pool_passes * w["pool_images"] + task_runs * w["test_images"]) * t_fwd_img
        + w["full_steps"] * t_step
    )
    return SEEDS * sec / 3600


def measure_gpu(ds: str, device: str = "cuda", repeats: int = 30, batch: int = BATCH) -> tuple:
    """(task step s, VAAL iteration s, forward s/image) at the dataset's config, bf16.

    Meant for CUDA; `device="cpu"` with a few repeats only checks the wiring (what was run here).
    """
    from vaal_core.models import fresh_task_model
    from vaal_core.spec import RuntimeSpec, TaskSpec
    from vaal_core.vaal import VAALModels
    from vaal_core.vaal.options import VAALOptions

    model_name, k, size, vsize, *_ = CONFIGS[ds]
    dev = torch.device(device)
    cl = torch.channels_last
    rt = RuntimeSpec(device=dev.type, precision="bf16", channels_last=True)
    model = fresh_task_model(TaskSpec(model=model_name), 3, k, dev, channels_last=True)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, fused=True)
    x = torch.randn(batch, 3, size, size, device=dev).contiguous(memory_format=cl)
    y = torch.randint(0, k, (batch,), device=dev)
    xe = torch.randn(4 * batch, 3, size, size, device=dev).contiguous(memory_format=cl)
    vaal = VAALModels(3, VAALOptions(image_size=vsize), rt, dev)
    xv = torch.randn(batch, 3, vsize, vsize, device=dev).contiguous(memory_format=cl)

    def step():
        with torch.autocast(dev.type, dtype=torch.bfloat16):
            loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def fwd():
        model.eval()
        with torch.inference_mode(), torch.autocast(dev.type, dtype=torch.bfloat16):
            model(xe)
        model.train()

    def vaal_iter():  # the release's iteration: 2 VAE steps, 1 discriminator step
        vaal.vae_step(xv, xv)
        vaal.vae_step(xv, xv)
        vaal.disc_step(xv, xv)

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize()

    def timed(fn, n):
        for _ in range(min(3, n)):
            fn()
        sync()
        t = time.perf_counter()
        for _ in range(n):
            fn()
        sync()
        return (time.perf_counter() - t) / n

    return (
        timed(step, repeats),
        timed(vaal_iter, repeats),
        timed(fwd, max(1, repeats // 3)) / len(xe),
    )


def estimates(measured: dict | None) -> None:
    from vaal_core.models import fresh_task_model
    from vaal_core.spec import TaskSpec

    print("\nEstimated GPU-hours per `make reproduce-<dataset>` (6 strategies x 5 seeds)")
    src = (
        "measured on " + torch.cuda.get_device_name()
        if measured
        else (f"EXTRAPOLATED: FLOPs / {ASSUMED_TFLOPS:.0f} TFLOP/s assumed sustained (no GPU here)")
    )
    print(f"per-iteration costs: {src}")
    print(
        f"{'dataset':<11}{'fwd GFLOP/img':>14}{'step ms':>9}{'vaal ms':>9}{'epoch0 s':>9}"
        f"{'paper h':>9}{'release h':>10}{'modern h':>9}"
    )
    for ds, (model_name, k, size, vsize, _, _, (initial, _, _)) in CONFIGS.items():
        f_task = fwd_flops(fresh_task_model(TaskSpec(model=model_name), 3, k), (1, 3, size, size))
        f_vae = vae_flops(vsize)
        if measured and ds in measured:
            t_step, t_vaal, t_fwd = measured[ds]
        else:  # training ~ 3x forward FLOPs; a VAAL iteration = 2 VAE steps on 2 batches + disc
            t_step = 3 * f_task * BATCH / (ASSUMED_TFLOPS * 1e12)
            t_vaal = (2 * 2 * 3 + 2) * f_vae * BATCH / (ASSUMED_TFLOPS * 1e12)
            t_fwd = f_task / (ASSUMED_TFLOPS * 1e12)
        epoch0 = math.ceil(initial / BATCH) * t_step
        hours = [gpu_hours(ds, p, t_step, t_vaal, t_fwd) for p in ("paper", "release", "modern")]
        print(
            f"{ds:<11}{f_task / 1e9:>14.2f}{1e3 * t_step:>9.2f}{1e3 * t_vaal:>9.2f}{epoch0:>9.1f}"
            f"{hours[0]:>9.0f}{hours[1]:>10.0f}{hours[2]:>9.0f}"
        )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--jpegs", type=int, default=3000)
    p.add_argument("--size", type=int, default=64, help="crop size the reader produces")
    p.add_argument("--workers", type=int, default=min(4, os.cpu_count() or 1))
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--rss-sizes", default="5000,20000")
    p.add_argument("--rss-reader", nargs=4, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.rss_reader:
        folder, n, batch, how = a.rss_reader
        rss_reader(folder, int(n), int(batch), how)
        return
    torch.set_num_threads(a.workers)
    res = round(a.size * 256 / 224)
    print(
        f"CPU: {cpu_name()} ({os.cpu_count()} cores), torch {torch.__version__}; "
        f"{a.jpegs} JPEGs, cache {res}px, crops {a.size}px, batch {a.batch}, {a.workers} workers"
    )
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        make_jpegs(tmp / "jpeg", a.jpegs)
        reader, build_ips = bench_build(tmp / "jpeg", tmp / "cache", res, a.workers)
        cache_ips = bench_cache_read(reader, a.size, a.batch, a.epochs)
        folder_ips = bench_imagefolder(tmp / "jpeg", a.size, a.batch, a.workers, a.epochs)
        print(f"\n{'measure':<58}{'images/s':>10}")
        print(
            f"{'cache build (decode + resize, ' + str(a.workers) + ' processes)':<58}{build_ips:>10.0f}"
        )
        print(
            f"{'cache read: pread + batched RRC/flip/normalise, 1 process':<58}{cache_ips:>10.0f}"
        )
        print(f"{'ImageFolder DataLoader: PIL decode + same transforms':<58}{folder_ips:>10.0f}")
        print(f"{'speed-up of the cache read':<58}{cache_ips / folder_ips:>9.1f}x")
        sizes = [int(s) for s in a.rss_sizes.split(",")]
        rss = bench_rss(tmp / "cache", a.size, sizes, a.batch)
        print(
            f"\npeak RSS (MB) reading N cached {a.size}px images once each, random batches of {a.batch}"
        )
        print(f"{'reader':<26}" + "".join(f"{'N=' + str(k):>10}" for k in sizes))
        for how, label in (("pread", "suite (os.preadv)"), ("memmap", "np.memmap indexing")):
            print(f"{label:<26}" + "".join(f"{rss[(how, k)]:>10.0f}" for k in sizes))
    measured = None
    if torch.cuda.is_available():
        measured = {ds: measure_gpu(ds) for ds in CONFIGS}
    else:
        print(
            "\nPer-dataset GPU timing (one VAAL iteration, one task epoch) needs CUDA: skipped on "
            "this CPU-only machine; the estimate below is extrapolated from FLOP counts."
        )
    estimates(measured)


if __name__ == "__main__":
    main()
