"""`make gpu-check`: prove every CUDA path of the engine works, then measure it, in one command.

Prints one table and writes one JSON file (`--json`, default results/gpu-check.json). Nothing is
downloaded: images are random tensors or the test fixtures' generated datasets
(tests/fixtures/), in each dataset's real on-disk format. Every value in the table was measured by
this run (the datasheet peaks below are cited constants, shown only beside a measured peak);
anything that was not is printed as "not run" with the reason, never as a number.

Sections (rows in this order; `--dry-run` runs the same code at toy sizes on the CPU):
1. correctness
   - fp32 on the CPU vs fp32 on the device, TF32 off, same weights and inputs: two steps of a
     classification task model (VGG16-bn @32) and of DRN-D-22 (segmentation, crop 256), two VAE
     steps (reparameterisation noise given, so both devices see the same), two discriminator
     steps, and pool scoring; the largest relative difference must stay under the tolerance;
   - bf16 and fp16 (autocast, fp16 with the grad scaler): VAAL and task steps stay finite;
   - `runtime.compile` (vaal_core/train/compiled.py: CUDA graphs) vs eager on the device: VAE,
     discriminator, scoring and task steps agree and none fell back to eager;
   - `python -m vaal_core run` for 2 cycles per task kind (experiments/caltech256.yaml and
     experiments/cityscapes.yaml on the fixtures, shrunk by `--set` only), killed at a failpoint
     (`VAAL_FAILPOINT=after_record:0`, SIGKILL), then resumed to 2 records;
   - disk-cache reads (vaal_core/datasets/cache.py, `os.preadv` into pinned buffers on CUDA)
     deliver the bytes of the cache file;
   - DDP (slurm/ddp.py) at world size 1, NCCL on CUDA (gloo on the CPU) runs a cycle.
2. speed (bf16 + channels_last unless a row says otherwise)
   - ms per VAAL iteration at CIFAR shape (VGG16-bn step + 2 VAE steps + disc step, batch 128,
     benchmarks/bench_vaal.Path): eager fp32, bf16, bf16 + channels_last, compiled;
   - ms per task step: VGG16-bn @32 (batch 128), ResNet18 @224 (batch 128), DRN-D-22 @512 crop
     (batch 8, the spec's);
   - pool scoring images/s (encoder + discriminator, batch 1024); cache read images/s (pread +
     batched random-resized crop, benchmarks/bench_data.bench_cache_read);
   - host synchronisations per VAAL iteration (torch.profiler, vaal_core/train/hostsync.py);
   - peak device memory; achieved TFLOP/s from the FLOP counts the suite computes
     (layers_vaal.iteration_gflop, bench_seg.flops; training = 3x forward) against the device's
     peak, measured as a large bf16 GEMM (and the datasheet figure when the device is known).
3. GPU-hours of every `make reproduce-<name>` (experiments/*.yaml): classification per protocol
   (paper, release, modern; vaal_core/spec/protocols.py) with bench_data.gpu_hours fed by per-dataset
   times measured here (bench_data.measure_gpu); segmentation with bench_seg.gpu_hours' FLOP count
   divided by the DRN throughput measured here instead of its assumed 150 TFLOP/s.

Budget on one H100/H200: at most 8 minutes (`--budget-s`, default 480; a row that would start
after it is printed as "not run (time budget ... spent)"). Plan, from FLOP counts and the CPU
rehearsal, not yet from a GPU: imports and CUDA start 15 s; correctness 3 min (torch.compile of
the VAE/disc/score/VGG steps about 2 min cold, 4 CLI processes about 15 s each, the CPU side of
the fp32 comparison about 20 s); speed 2 min (the compiled path's second compile hits inductor's
cache; 20 timed repeats after 3 warm-ups per row); GPU-hours 30 s (four measure_gpu calls).
The JSON records each section's seconds, so the first GPU run shows the real split.

Usage: python benchmarks/gpu_check.py [--dry-run] [--json PATH] [--budget-s 480]
       make gpu-check            # needs CUDA
       make gpu-check DRY=1      # the CPU rehearsal (tests/test_gpu_check.py runs it): about
                                 # 40 s of CPU time, 63-130 s wall on the shared 2-core machine
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from benchmarks import bench_data, bench_seg, bench_vaal, layers_vaal  # noqa: E402
from vaal_core.errors import DeviceError  # noqa: E402
from vaal_core.models import fresh_task_model  # noqa: E402
from vaal_core.spec import RuntimeSpec, TaskSpec  # noqa: E402
from vaal_core.tasks import get_task  # noqa: E402
from vaal_core.train.compiled import CompiledStep  # noqa: E402
from vaal_core.train.device import autocast, check_precision, cpu_model_name, grad_scaler  # noqa: E402
from vaal_core.vaal import VAALModels  # noqa: E402
from vaal_core.vaal.options import VAALOptions  # noqa: E402

NEEDS_CUDA = "not run (needs CUDA)"
TOY = "from dry-run toy timings: not meaningful"
# fp32 CPU vs device, TF32 off: summation order differs (cuDNN picks its own algorithms), and the
# second step inherits the first's differences through the optimiser
FP32_RTOL = 2e-3
COMPILE_RTOL = 2e-2  # inductor fuses and reorders reductions
# dense bf16 tensor-core peak, TFLOP/s, from NVIDIA's datasheets (without sparsity)
DATASHEET_BF16 = {
    "H200": 989.4,
    "H100 SXM": 989.4,
    "H100 PCIe": 756.0,
    "H100": 989.4,
    "A100": 312.0,
    "L40S": 362.05,
    "A10": 125.0,
}


@dataclass(frozen=True)
class Sizes:
    """Every size the check uses: the paper's shapes on a GPU, toys for --dry-run."""

    cls_model: str  # task model of the classification correctness checks and the VAAL iteration
    cls_batch: int  # batch of the correctness checks
    vae_width: int
    vaal_batch: int
    seg_width: float  # DRN-D-22 width multiplier of the correctness check
    seg_check_crop: int
    step_batch: int  # task-step timing batch (VGG16-bn, ResNet18)
    resnet_size: int
    vgg_size: int
    drn_crop: int
    drn_batch: int
    reps: int  # timed repeats per row (after warm-ups)
    pool: int  # images scored
    score_batch: int
    cache_images: int
    cache_res: int
    cache_crop: int
    cache_batch: int
    speed_precision: str  # bf16 on a GPU; fp32 on a CPU without bf16 hardware (emulated 10-30x)


GPU_SIZES = Sizes(
    "vgg16_bn",
    16,
    128,
    128,
    1.0,
    256,
    128,
    224,
    32,
    512,
    8,
    20,
    8192,
    1024,
    2048,
    256,
    224,
    256,
    "bf16",
)
DRY_SIZES = Sizes(
    "small_cnn", 4, 8, 4, 0.25, 32, 2, 32, 32, 32, 2, 1, 64, 32, 96, 40, 32, 32, "fp32"
)


@dataclass
class Row:
    section: str
    name: str
    status: str  # ok | FAIL | not run
    value: float | None = None
    unit: str = ""
    note: str = ""

    def cell(self) -> str:
        if self.status == "not run":
            return self.note if self.note.startswith("not run") else f"not run ({self.note})"
        v = "" if self.value is None else f" {_fmt(self.value)} {self.unit}".rstrip()
        return f"{self.status}:{v}" if v else self.status


def _fmt(v: float) -> str:
    if v != v:
        return "nan"
    if v == 0 or 0.01 <= abs(v) < 1e5:
        return f"{v:.3g}" if abs(v) < 100 else f"{v:.0f}"
    return f"{v:.2e}"


class Report:
    """Rows in order, each check guarded: an exception becomes a FAIL row with its first line."""

    def __init__(self, dry: bool, budget_s: float):
        self.rows: list[Row] = []
        self.dry, self.budget_s, self.t0 = dry, budget_s, time.perf_counter()
        self.section_s: dict[str, float] = {}
        self.values: dict[str, float] = {}  # measured figures later sections use

    def over_budget(self) -> bool:
        return time.perf_counter() - self.t0 > self.budget_s

    def check(self, section: str, name: str, fn: Callable[[], Row | tuple]) -> Row:
        if self.over_budget():
            row = Row(section, name, "not run", note=f"time budget of {self.budget_s:.0f} s spent")
        else:
            try:
                out = fn()
                row = out if isinstance(out, Row) else Row(section, name, *out)
                row.section, row.name = section, name
            except Exception as e:  # noqa: BLE001 - a broken path is a FAIL row, not a crash
                lines = [ln for ln in str(e).splitlines() if ln.strip()]
                row = Row(
                    section, name, "FAIL", note=f"{type(e).__name__}: {lines[0] if lines else ''}"
                )
        self.rows.append(row)
        print(
            f"  [{time.perf_counter() - self.t0:6.1f}s] {name}: {row.cell()}"
            + (f" - {row.note}" if row.note and row.status != "not run" else ""),
            flush=True,
        )
        return row

    @contextlib.contextmanager
    def section(self, name: str) -> Iterator[None]:
        print(f"# {name}", flush=True)
        t = time.perf_counter()
        yield
        self.section_s[name] = round(time.perf_counter() - t, 2)

    def table(self) -> str:
        dry_col, gpu_col = "dry-run: CPU, toy sizes", "GPU: paper shapes"
        out = [f"| section | row | {dry_col} | {gpu_col} | note |", "|---|---|---|---|---|"]
        for r in self.rows:
            here = r.cell()
            dry, gpu = (here, "not run (dry-run: no GPU used)") if self.dry else ("-", here)
            note = "" if r.status == "not run" else r.note
            out.append(f"| {r.section} | {r.name} | {dry} | {gpu} | {note} |")
        return "\n".join(out)


# ----------------------------------------------------------------------------- shared helpers
def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@contextlib.contextmanager
def strict_fp32() -> Iterator[None]:
    """TF32 off: a CUDA fp32 result then differs from the CPU's by summation order only."""
    old = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = old


def _max_rel(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.double().cpu(), b.double().cpu()
    return ((a - b).abs() / b.abs().clamp_min(1e-3)).max().item()


def _agreement(diff: float, rtol: float, what: str) -> tuple:
    status = "ok" if diff <= rtol else "FAIL"
    return status, diff, "max rel diff", f"{what}; tolerance {rtol:g}"


def _no_dropout(model: nn.Module) -> nn.Module:
    """Dropout masks come from device-specific generators: off, so both devices compute alike."""
    for m in model.modules():
        if isinstance(m, nn.modules.dropout._DropoutNd):
            m.eval()
    return model


def _task_inputs(kind: str, batch: int, size: int, classes: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, 3, size, size, generator=g)
    shape = (batch,) if kind == "classification" else (batch, size, size)
    return x, torch.randint(0, classes, shape, generator=g)


def task_stepper(
    model_name: str,
    classes: int,
    kind: str,
    device: torch.device,
    precision: str,
    compile: bool = False,
    channels_last: bool = False,
    width: float = 1.0,
):
    """The trainer's inner step (vaal_core/train/trainer.py): CompiledStep(loss) + scaler + fused SGD.

    Returns (step(x, y) -> detached loss, the CompiledStep) on a model seeded with 0.
    """
    torch.manual_seed(0)
    task = TaskSpec(model=model_name, model_width=width)
    model = fresh_task_model(task, 3, classes, device, channels_last=channels_last)
    model = _no_dropout(model.train())
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, fused=True)
    scaler, loss_kind = grad_scaler(device, precision), get_task(kind)

    def loss_fn(x, y):
        with autocast(device, precision):
            return loss_kind.loss(model(x), y)

    compiled = CompiledStep(loss_fn, "task step", device, compile)

    def step(x, y):
        loss = compiled(
            x,
            y,
            before=lambda: opt.zero_grad(set_to_none=True),
            then=lambda out: scaler.scale(out).backward(),
        )
        scaler.step(opt)
        scaler.update()
        return loss.detach().float().clone()

    return step, compiled


def task_losses(
    model_name, classes, kind, x, y, device, precision="fp32", compile=False, width=1.0, steps=2
):
    step, compiled = task_stepper(
        model_name, classes, kind, device, precision, compile, width=width
    )
    x, y = x.to(device), y.to(device)
    if compile and device.type == "cuda":
        x = x.contiguous()
    losses = torch.stack([step(x, y) for _ in range(steps)]).cpu()
    return losses, compiled.fallen_back


def vaal_outputs(cfg: VAALOptions, inputs, device, precision="fp32", compile=False) -> dict:
    """Two VAE steps, two discriminator steps, then scoring, from weights seeded with 0.

    The VAE step goes through `VAALModels._optimise` with the reparameterisation noise given:
    `vae_step` draws it on the device, and the CPU's and CUDA's generators differ.
    """
    torch.manual_seed(0)
    m = VAALModels(3, cfg, RuntimeSpec(precision=precision, compile=compile), device)
    x_l, x_u, eps_l, eps_u = (t.to(device) for t in inputs)
    vae = []
    for _ in range(2):
        m.vae.train()
        vae.append(m._optimise(m._vae_loss, m.opt_vae, x_l, x_u, eps_l, eps_u))
    disc = [m.disc_step(x_l, x_u) for _ in range(2)]
    score = m.score(iter([x_l, x_u]), len(x_l) + len(x_u))
    return {
        "vae": torch.stack(vae).float().cpu(),
        "disc": torch.stack(disc).float().cpu(),
        "score": score.float().cpu(),
        "fallbacks": m.compile_fallbacks,
    }


def _vaal_inputs(cfg: VAALOptions, batch: int):
    g = torch.Generator().manual_seed(1)
    x = [torch.randn(batch, 3, cfg.image_size, cfg.image_size, generator=g) for _ in range(2)]
    return (*x, *(torch.randn(batch, cfg.latent_dim, generator=g) for _ in range(2)))


def _timed_ms(fn: Callable[[], object], reps: int, device: torch.device, warm: int = 1) -> float:
    for _ in range(warm - 1):  # bench_seg.timed warms once more itself
        fn()
    return 1e3 * bench_seg.timed(fn, reps, device)


# ----------------------------------------------------------------------------- 1. correctness
def correctness(rep: Report, device: torch.device, sz: Sizes, tmp: Path) -> None:
    cpu = torch.device("cpu")
    cfg = VAALOptions(width=sz.vae_width)
    vin = _vaal_inputs(cfg, sz.cls_batch)
    cls_in = _task_inputs("classification", sz.cls_batch, 32, 10)
    seg_in = _task_inputs("segmentation", 2, sz.seg_check_crop, 19)
    dev = f"CPU vs {device.type}" + (" (both CPU in a dry run)" if device.type == "cpu" else "")
    cache: dict[str, dict] = {}

    def vaal_pair():
        if "fp32" not in cache:
            with strict_fp32():
                cache["fp32"] = (vaal_outputs(cfg, vin, cpu), vaal_outputs(cfg, vin, device))
        return cache["fp32"]

    def task_pair(model, classes, kind, inp, width=1.0):
        with strict_fp32():
            a, _ = task_losses(model, classes, kind, *inp, cpu, width=width)
            b, _ = task_losses(model, classes, kind, *inp, device, width=width)
        return _agreement(_max_rel(b, a), FP32_RTOL, f"{dev}, 2 SGD steps, {model}")

    S = "correctness"
    rep.check(
        S,
        "fp32 CPU vs device: task step (classification)",
        lambda: task_pair(sz.cls_model, 10, "classification", cls_in),
    )
    rep.check(
        S,
        "fp32 CPU vs device: task step (segmentation)",
        lambda: task_pair("drn_d_22", 19, "segmentation", seg_in, sz.seg_width),
    )
    for key, label in (
        ("vae", "VAE step"),
        ("disc", "discriminator step"),
        ("score", "pool scoring"),
    ):
        rep.check(
            S,
            f"fp32 CPU vs device: {label}",
            lambda k=key: _agreement(
                _max_rel(vaal_pair()[1][k], vaal_pair()[0][k]),
                FP32_RTOL,
                f"{dev}, VAE width {sz.vae_width}",
            ),
        )

    def finite(precision: str):
        try:
            check_precision(precision, device)
        except DeviceError as e:
            return Row(S, "", "not run", note=f"not run ({e})")
        out = vaal_outputs(cfg, vin, device, precision)
        a, _ = task_losses(sz.cls_model, 10, "classification", *cls_in, device, precision)
        b, _ = task_losses(
            "drn_d_22", 19, "segmentation", *seg_in, device, precision, width=sz.seg_width
        )
        values = torch.cat([out["vae"], out["disc"], out["score"], a, b])
        ok = bool(torch.isfinite(values).all())
        return (
            "ok" if ok else "FAIL",
            float(values.isfinite().float().mean()),
            "finite fraction",
            "2 VAE, 2 disc, scoring, 2 task steps (classification, segmentation)",
        )

    rep.check(S, "bf16: steps stay finite", lambda: finite("bf16"))
    rep.check(S, "fp16: steps stay finite", lambda: finite("fp16"))

    def compiled_vaal():
        if device.type != "cuda":
            return Row(S, "", "not run", note=NEEDS_CUDA)
        with strict_fp32():
            eager = vaal_pair()[1]
            comp = vaal_outputs(cfg, vin, device, compile=True)
        if comp["fallbacks"]:
            return "FAIL", None, "", f"fell back to eager: {comp['fallbacks']}"
        diff = max(_max_rel(comp[k], eager[k]) for k in ("vae", "disc", "score"))
        return _agreement(diff, COMPILE_RTOL, "VAE, disc, scoring; CUDA graphs vs eager")

    def compiled_task():
        if device.type != "cuda":
            return Row(S, "", "not run", note=NEEDS_CUDA)
        with strict_fp32():
            eager, _ = task_losses(sz.cls_model, 10, "classification", *cls_in, device)
            comp, fell = task_losses(
                sz.cls_model, 10, "classification", *cls_in, device, compile=True
            )
        if fell:
            return "FAIL", None, "", "the task step fell back to eager"
        return _agreement(_max_rel(comp, eager), COMPILE_RTOL, f"{sz.cls_model}, 2 steps")

    rep.check(S, "compiled vs eager: VAAL steps + scoring", compiled_vaal)
    rep.check(S, "compiled vs eager: task step", compiled_task)

    data_root = tmp / "data"
    from tests.fixtures.datasets import write_caltech256
    from tests.fixtures.segmentation import CLI_TINY, write_cityscapes

    write_caltech256(data_root, classes=4, per_class=10)
    write_cityscapes(data_root)
    dry_only = ("runtime.precision=fp32", "runtime.channels_last=false")
    cls_set = [
        "dataset.image_size=32",
        "dataset.cache_resolution=36",
        "dataset.cache_workers=1",
        "task.iterations=2",
        "task.batch_size=8",
        "task.eval_batch_size=64",
        "active.initial=8",
        "active.budget=6",
        "active.cycles=2",
        "vaal.width=4",
        "vaal.image_size=16",
        "vaal.latent_dim=8",
        "vaal.batch_size=4",
        "vaal.diag_holdout=0",
        "runtime.num_threads=1",
        *dry_only,
    ]
    seg_set = list(CLI_TINY)
    if device.type == "cuda":  # the shipped specs' own precision and layout (bf16, channels_last)
        cls_set = [s for s in cls_set if s not in dry_only]
        seg_set = [s for s in seg_set if s not in dry_only]
    for kind, name, sets in (
        ("classification", "caltech256", cls_set),
        ("segmentation", "cityscapes", seg_set),
    ):
        rep.check(
            S,
            f"CLI 2 cycles, killed at a failpoint, resumed: {kind}",
            lambda n=name, s=sets: cli_kill_resume(n, s, data_root, tmp / f"cli-{n}"),
        )
    rep.check(S, "cache reads deliver the same bytes", lambda: cache_bytes(device, sz, tmp))
    rep.check(
        S,
        "DDP world size 1 runs a cycle",
        lambda: ddp_cycle(cls_set, data_root, tmp / "ddp", device),
    )


def cli_kill_resume(name: str, sets: list[str], data_root: Path, out: Path) -> tuple:
    """`python -m vaal_core run` killed by SIGKILL at after_record:0, then resumed to the end."""
    args = [
        sys.executable,
        "-m",
        "vaal_core",
        "run",
        str(REPO / "experiments" / f"{name}.yaml"),
        "--strategy",
        "vaal",
        "--seed",
        "0",
        "--out",
        str(out),
        "--data-root",
        str(data_root),
        "--no-progress",
    ]
    for s in sets:
        args += ["--set", s]
    env = {k: v for k, v in os.environ.items() if k != "VAAL_FAILPOINT"}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    t = time.perf_counter()
    killed = subprocess.run(
        args,
        cwd=REPO,
        env={**env, "VAAL_FAILPOINT": "after_record:0"},
        capture_output=True,
        text=True,
    )
    if killed.returncode != -signal.SIGKILL:
        tail = (killed.stderr.strip().splitlines() or ["(no stderr)"])[-1]
        return "FAIL", None, "", f"the failpoint did not fire (rc {killed.returncode}): {tail}"
    log = out / name / "vaal" / "seed-0" / "cycles.jsonl"
    committed = log.read_text().count("\n") if log.exists() else 0
    if committed != 1:
        return (
            "FAIL",
            None,
            "",
            f"killed after cycle 0's record, but {committed} records were committed",
        )
    done = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["(no stderr)"])[-1]
        return "FAIL", None, "", f"resume exited {done.returncode}: {tail}"
    records = [json.loads(line) for line in log.read_text().splitlines()]
    cycles = [r["cycle"] for r in records]
    finite = all(math.isfinite(r["value"]) for r in records)
    resumed = len({r["run_id"] for r in records}) == 1  # one run continued, not restarted
    ok = cycles == [0, 1] and finite and resumed
    note = (
        f"experiments/{name}.yaml on the fixture; killed at after_record:0, resumed: cycles "
        f"{cycles}, {records[-1]['metric']} {records[-1]['value']:.3f}, "
        f"precision {records[-1]['precision']}"
    )
    return ("ok" if ok else "FAIL"), time.perf_counter() - t, "s", note


def _cache(sz: Sizes, tmp: Path):
    from vaal_core.datasets.cache import ArraySource, CacheKey, CacheReader, build_cache

    n, res = sz.cache_images, sz.cache_res
    imgs = np.random.default_rng(2).integers(0, 256, (n, res, res, 3), dtype=np.uint8)
    src = ArraySource(imgs, np.zeros(n, dtype=np.int64), [("generated", n)])
    folder = build_cache(
        src,
        CacheKey("gpucheck", "train", res, "generated"),
        tmp / "cache",
        workers=1,
        progress=False,
    )
    return CacheReader(folder), folder


def cache_bytes(device: torch.device, sz: Sizes, tmp: Path) -> tuple:
    reader, folder = _cache(sz, tmp)
    pin = device.type == "cuda"
    idx = np.random.default_rng(3).permutation(len(reader))[: min(512, len(reader))]
    got = reader.read(idx, pin=pin)
    want = torch.from_numpy(np.load(folder / "images.npy", mmap_mode="r")[idx])
    same = torch.equal(got, want)
    if pin:
        same = same and got.is_pinned()
        same = same and torch.equal(got.to(device, non_blocking=True).cpu(), want)
    how = "pinned, copied to the GPU and back" if pin else "unpinned: pinned buffers need CUDA"
    return ("ok" if same else "FAIL"), len(idx), "images compared", f"{how}; random order"


def ddp_cycle(sets: list[str], data_root: Path, out: Path, device: torch.device) -> tuple:
    from slurm.ddp import DistEnv, run_distributed
    from vaal_core.spec import load_spec

    spec = load_spec(REPO / "experiments/caltech256.yaml", [*sets, "active.cycles=1"])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t = time.perf_counter()
    records = run_distributed(
        spec, "random", 0, out, str(data_root), DistEnv(0, 1, 0, "127.0.0.1", port), progress=False
    )
    env = json.loads((out / "caltech256" / "random" / "seed-0" / "env.json").read_text())
    want = "nccl" if device.type == "cuda" else "gloo"
    ok = len(records) == 1 and env.get("backend") == want and env.get("world_size") == 1
    note = f"backend {env.get('backend')} (expected {want}), {len(records)} record(s)"
    return ("ok" if ok else "FAIL"), time.perf_counter() - t, "s", note


# ----------------------------------------------------------------------------- 2. speed
def gemm_peak_tflops(device: torch.device) -> float:
    """bf16 GEMM throughput at 8192^3: the practical tensor-core peak of this device."""
    n = 8192
    a, b = (torch.randn(n, n, device=device, dtype=torch.bfloat16) for _ in range(2))
    return 2 * n**3 / (_timed_ms(lambda: a @ b, 10, device, warm=3) / 1e3) / 1e12


def datasheet_peak(device: torch.device) -> tuple[str, float] | None:
    name = torch.cuda.get_device_name(device)
    for key, peak in DATASHEET_BF16.items():  # most specific first (dict order)
        if all(part in name for part in key.split()):
            return key, peak
    return None


def _tflops_row(rep: Report, gflop: float, ms: float, what: str) -> tuple:
    tflops = gflop / ms  # GFLOP per ms = TFLOP/s
    peak, sheet = rep.values.get("gemm_peak"), rep.values.get("datasheet_peak")
    if peak is None:
        note = f"{what}; device peak: {NEEDS_CUDA}"
    else:
        note = f"{what}; {100 * tflops / peak:.0f}% of the measured bf16 GEMM peak"
        if sheet:
            note += f", {100 * tflops / sheet:.0f}% of the datasheet's {sheet:.0f}"
    return "ok", tflops, "TFLOP/s", note


def speed(rep: Report, device: torch.device, sz: Sizes, tmp: Path) -> None:
    S = "speed"
    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats(device)
        rep.check(
            S,
            "device peak: bf16 GEMM 8192^3",
            lambda: ("ok", _peak(rep, device), "TFLOP/s", _sheet_note(rep)),
        )
    else:
        rep.check(
            S, "device peak: bf16 GEMM 8192^3", lambda: Row(S, "", "not run", note=NEEDS_CUDA)
        )
    cfg = VAALOptions(width=sz.vae_width, batch_size=sz.vaal_batch)
    g = torch.Generator().manual_seed(0)
    pool = torch.randint(
        0, 256, (max(sz.pool, 2 * sz.vaal_batch), 3, 32, 32), dtype=torch.uint8, generator=g
    )
    labels = torch.randint(0, 10, (len(pool),), generator=g)
    p16 = sz.speed_precision  # the task-step rows' precision
    # bf16 even in a dry run: at toy sizes the emulated bf16 of an AVX2-only CPU costs seconds
    paths = [
        ("eager fp32", "fp32", False, False),
        ("bf16", "bf16", False, False),
        ("bf16 + channels_last", "bf16", True, False),
        ("compiled (bf16 + channels_last, CUDA graphs)", "bf16", True, True),
    ]
    made: dict[str, bench_vaal.Path] = {}
    B = sz.vaal_batch

    def iteration(label, precision, cl, comp):
        if comp and not cuda:
            return Row(S, "", "not run", note=NEEDS_CUDA)
        p = bench_vaal.Path(
            label,
            precision,
            encoder_only=True,
            fused=True,
            channels_last=cl,
            compile=comp,
            device=device,
            vaal_cfg=cfg,
            task_model=sz.cls_model,
        )
        batches = ((p.prep(pool[:B]), labels[:B].to(device)), p.prep(pool[B : 2 * B]))
        made[label] = p
        if comp:
            p.compiled_vs_eager(batches, 3)  # compilation and CUDA-graph recording
        ms = 1e3 * p.compiled_vs_eager(batches, sz.reps)
        rep.values[f"vaal_ms:{label}"] = ms
        note = f"{sz.cls_model} + 2 VAE steps + disc step, batch {B}, VAE width {sz.vae_width}"
        if comp:
            ratio = rep.values.get("vaal_ms:bf16 + channels_last", math.nan) / ms
            note += f"; {ratio:.2f}x faster than the eager bf16 + channels_last row"
        return "ok", ms, "ms", note

    for label, precision, cl, comp in paths:
        rep.check(
            S, f"VAAL iteration: {label}", lambda a=(label, precision, cl, comp): iteration(*a)
        )

    steps = [
        ("VGG16-bn", "vgg16_bn", 10, "classification", sz.vgg_size, sz.step_batch),
        ("ResNet18", "resnet18", 1000, "classification", sz.resnet_size, sz.step_batch),
        ("DRN-D-22", "drn_d_22", 19, "segmentation", sz.drn_crop, sz.drn_batch),
    ]
    nominal = {"VGG16-bn": "@32", "ResNet18": "@224", "DRN-D-22": "@512 crop"}

    def task_step(label, model, classes, kind, size, batch):
        cl = cuda
        step, _ = task_stepper(model, classes, kind, device, p16, channels_last=cl)
        x, y = _task_inputs(kind, batch, size, classes)
        x, y = x.to(device), y.to(device)
        if cl:
            x = x.contiguous(memory_format=torch.channels_last)
        ms = _timed_ms(lambda: step(x, y), sz.reps, device, warm=1 if not cuda else 3)
        with torch.device("meta"):
            meta_model = fresh_task_model(TaskSpec(model=model), 3, classes).eval()
        gflop = 3 * batch * bench_seg.flops(meta_model, (1, 3, size, size)) / 1e9
        rep.values[f"step_ms:{label}"], rep.values[f"step_gflop:{label}"] = ms, gflop
        why = "" if p16 == "bf16" else " (bf16 is emulated on this CPU: fp32 stands in)"
        return (
            "ok",
            ms,
            "ms",
            f"{size}x{size}, batch {batch}, {p16}{' + channels_last' if cl else ''}{why}",
        )

    for row in steps:
        rep.check(S, f"task step: {row[0]} {nominal[row[0]]}", lambda r=row: task_step(*r))

    def scoring():
        p = made.get("bf16 + channels_last") or made.get("eager fp32")
        if p is None:
            raise RuntimeError("no VAAL path was built (its row failed)")
        rate = p.score_rate(pool[: sz.pool], sz.score_batch)
        return (
            "ok",
            rate,
            "images/s",
            f"{sz.pool} CIFAR-shape images, batch {sz.score_batch}, encoder + disc",
        )

    rep.check(S, "pool scoring", scoring)

    def cache_rate():
        reader, _ = _cache(sz, tmp)  # the correctness check built it: reused, not rebuilt
        ips = bench_data.bench_cache_read(reader, sz.cache_crop, sz.cache_batch, 1, device)
        return (
            "ok",
            ips,
            "images/s",
            (
                f"pread{' into pinned buffers' if cuda else ''} + "
                f"random-resized crop {sz.cache_crop} on {device.type}, "
                f"batch {sz.cache_batch}"
            ),
        )

    rep.check(S, "cache read", cache_rate)

    def syncs():
        p = made.get("bf16 + channels_last") or made.get("eager fp32")
        if p is None:
            raise RuntimeError("no VAAL path was built (its row failed)")
        batches = ((p.prep(pool[:B]), labels[:B].to(device)), p.prep(pool[B : 2 * B]))
        outside, in_opt = p.syncs_per_iteration(batches)
        return (
            "ok",
            outside,
            "syncs",
            (
                f"torch.profiler over one iteration, outside the loss "
                f"reads; {in_opt} inside optimiser.step; target 0"
            ),
        )

    rep.check(S, "host syncs per VAAL iteration", syncs)

    def peak_mem():
        if cuda:
            mb = torch.cuda.max_memory_allocated(device) / 2**20
            return "ok", mb, "MiB", "torch.cuda.max_memory_allocated over the speed section"
        from vaal_core.train.device import peak_memory_mb

        return "ok", peak_memory_mb(device), "MiB", "process peak RSS (CPU: no device memory)"

    rep.check(S, "peak memory", peak_mem)

    def vaal_tflops():
        ms = rep.values.get("vaal_ms:bf16 + channels_last")
        if ms is None:
            raise RuntimeError("the VAAL iteration row did not run")
        # counted at batch 1 (FlopCounterMode counts convolutions and matmuls: linear in batch)
        gf = {k: B * v for k, v in layers_vaal.iteration_gflop(sz.vae_width, 1).items()}
        task = gf["task step"]
        if sz.cls_model != "vgg16_bn":  # the toy task model: its own count, training = 3x fwd
            with torch.device("meta"):
                m = fresh_task_model(TaskSpec(model=sz.cls_model), 3, 10).eval()
            task = 3 * B * bench_seg.flops(m, (1, 3, 32, 32)) / 1e9
        total = task + 2 * gf["VAE step"] + gf["disc step, encoder only (fast)"]
        return _tflops_row(
            rep, total, ms, f"{_fmt(total)} GFLOP per iteration (bf16 + channels_last)"
        )

    rep.check(S, "achieved TFLOP/s: VAAL iteration", vaal_tflops)
    for label, *_ in steps:
        rep.check(
            S,
            f"achieved TFLOP/s: {label} step",
            lambda lab=label: _tflops_row(
                rep,
                rep.values[f"step_gflop:{lab}"],
                rep.values[f"step_ms:{lab}"],
                f"{rep.values[f'step_gflop:{lab}']:.1f} GFLOP per step",
            ),
        )


def _peak(rep: Report, device: torch.device) -> float:
    rep.values["gemm_peak"] = peak = gemm_peak_tflops(device)
    sheet = datasheet_peak(device)
    if sheet:
        rep.values["datasheet_peak"] = sheet[1]
    return peak


def _sheet_note(rep: Report) -> str:
    sheet = rep.values.get("datasheet_peak")
    return (
        f"datasheet dense bf16: {sheet:.0f} TFLOP/s"
        if sheet
        else "device not in the datasheet table"
    )


# ----------------------------------------------------------------------------- 3. GPU-hours
# specs without a GPU cost model, and why
UNCOSTED = {
    "mnist": "a CPU demo spec; bench_data/bench_seg model no GPU cost for it",
    "imagefolder": "a template for the user's own images: their number and size are unknown",
}


def gpu_hours(rep: Report, device: torch.device, sz: Sizes) -> None:
    S = "GPU-hours"
    cuda = device.type == "cuda"
    specs = sorted(p.stem for p in (REPO / "experiments").glob("*.yaml"))
    for name in specs:
        if name in bench_data.CONFIGS:
            for protocol in ("paper", "release", "modern"):
                rep.check(
                    S,
                    f"make reproduce-{name} ({protocol})",
                    lambda n=name, p=protocol: cls_hours(rep, n, p, device, sz),
                )
        elif name in bench_seg.POOL:
            rep.check(
                S, f"make reproduce-{name} (shipped spec)", lambda n=name: seg_hours(rep, n, cuda)
            )
        else:
            why = UNCOSTED.get(name, "bench_data/bench_seg model no GPU cost for it")
            rep.check(
                S,
                f"make reproduce-{name}",
                lambda why=why: Row(S, "", "not run", note=f"not run ({why})"),
            )


def cls_hours(rep: Report, ds: str, protocol: str, device: torch.device, sz: Sizes) -> tuple:
    key = f"measure:{ds}"
    if device.type == "cuda":
        if key not in rep.values:
            rep.values[key] = bench_data.measure_gpu(ds, "cuda", repeats=sz.reps)
        t_step, t_vaal, t_fwd = rep.values[key]
        src = "measured here: bench_data.measure_gpu (bf16, channels_last, batch 128)"
    else:  # the toy timings, only to run the computation
        model = bench_data.CONFIGS[ds][0]
        label = "VGG16-bn" if model == "vgg16_bn" else "ResNet18"
        t_step = rep.values[f"step_ms:{label}"] / 1e3
        t_vaal = rep.values["vaal_ms:bf16 + channels_last"] / 1e3
        t_fwd = t_step / 3 / sz.step_batch
        src = TOY
    hours = bench_data.gpu_hours(ds, protocol, t_step, t_vaal, t_fwd)
    return (
        "ok",
        hours,
        "GPU-h",
        (
            f"{src}; step {1e3 * t_step:.3g} ms, VAAL it. "
            f"{1e3 * t_vaal:.3g} ms, 6 strategies x 5 seeds"
        ),
    )


def seg_hours(rep: Report, name: str, cuda: bool) -> tuple:
    from vaal_core.spec import load_spec

    spec = load_spec(REPO / "experiments" / f"{name}.yaml")
    rows, _ = bench_seg.gpu_hours(spec)
    assumed = sum(h for _, h in rows)
    ms, gflop = rep.values["step_ms:DRN-D-22"], rep.values["step_gflop:DRN-D-22"]
    achieved = gflop / ms  # TFLOP/s of the measured DRN-D-22 step
    hours = assumed * bench_seg.ASSUMED_TFLOPS / achieved
    src = "DRN-D-22 throughput measured here" if cuda else TOY
    return (
        "ok",
        hours,
        "GPU-h",
        (
            f"bench_seg.gpu_hours' FLOPs at {achieved:.3g} TFLOP/s ({src}) "
            f"instead of the assumed {bench_seg.ASSUMED_TFLOPS:.0f}; scoring "
            f"and evaluation assumed at the training step's rate"
        ),
    )


# ----------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--dry-run",
        action="store_true",
        help="the same code paths at toy sizes on the CPU (no GPU needed)",
    )
    ap.add_argument("--json", default=str(REPO / "results" / "gpu-check.json"))
    ap.add_argument(
        "--budget-s",
        type=float,
        default=480.0,
        help="sections starting after this many seconds are not run",
    )
    args = ap.parse_args(argv)
    if not args.dry_run and not torch.cuda.is_available():
        print(
            "error: no CUDA device is visible; `python benchmarks/gpu_check.py --dry-run` "
            "(make gpu-check DRY=1) rehearses the same code on the CPU",
            file=sys.stderr,
        )
        return 2
    out = Path(args.json)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        print(f"error: cannot create {out.parent}: {e.strerror}", file=sys.stderr)
        return 2
    device = torch.device("cpu" if args.dry_run else "cuda")
    sz = DRY_SIZES if args.dry_run else GPU_SIZES
    if args.dry_run:
        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    where = cpu_model_name() if args.dry_run else torch.cuda.get_device_name(device)
    mode = (
        "dry-run (CPU, toy sizes: the figures say nothing about a GPU)" if args.dry_run else "GPU"
    )
    print(f"# gpu_check: {mode}; {where}; torch {torch.__version__}", flush=True)
    rep = Report(args.dry_run, args.budget_s)
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as tmp:
        for name, fn in (("correctness", correctness), ("speed", speed)):
            with rep.section(name):
                fn(rep, device, sz, Path(tmp))
        with rep.section("GPU-hours"):
            gpu_hours(rep, device, sz)
    total = time.perf_counter() - rep.t0
    print()
    print(rep.table())
    failed = [r.name for r in rep.rows if r.status == "FAIL"]
    print(
        f"\n{len(rep.rows)} rows in {total:.0f} s: {len(failed)} failed"
        + (f" ({', '.join(failed)})" if failed else "")
    )
    body = {
        "mode": "dry-run" if args.dry_run else "gpu",
        "device": where,
        "torch": torch.__version__,
        "sizes": asdict(sz),
        "seconds": round(total, 1),
        "section_seconds": rep.section_s,
        "rows": [
            asdict(r)
            | {
                "dry_run": rep.dry and r.cell() or "-",
                "gpu": r.cell() if not rep.dry else "not run (dry-run: no GPU used)",
            }
            for r in rep.rows
        ],
    }
    out.write_text(json.dumps(body, indent=1) + "\n")
    print(f"wrote {out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
