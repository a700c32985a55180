"""Per-layer forward+backward time of the VAE at the paper's CIFAR configuration, fp32 vs bf16.

Why the 2x CPU target is (or is not) reachable: a VAAL training iteration is dominated by the VAE
(two steps of forward+backward on two batches of 128), so its layers decide. For each layer this
prints forward+backward seconds at batch 128 for fp32 (NCHW and channels_last), bf16 autocast,
and fp32 as an explicit GEMM (unfold/fold + one matmul, the im2col formulation), with the
achieved GFLOP/s and the fraction of the machine's peak.

Peak is *measured*: the median throughput of a 2048^3 GEMM (MKL through torch.matmul) in each
dtype, on the threads this process uses. On a shared machine the CPU time a process gets varies
minute to minute, so a 1024^3 fp32 GEMM is also timed right before each layer and that layer's
fraction of peak uses this adjacent figure ("row peak"): contention then cancels out of the ratio.

FLOPs: 2 x MACs for the forward pass; forward+backward counts 3x (input and weight gradients),
except for the first layer whose input needs no gradient (2x).

Usage: python benchmarks/layers_vaal.py [--batch 128] [--width 128] [--reps 3] [--bf16-reps 1]
"""

from __future__ import annotations

import argparse
import math
import platform
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from vaal_core.train.device import cpu_model_name, native_bf16
from vaal_core.vaal import VAE


def _median_time(fn: Callable[[], None], reps: int) -> float:
    fn()  # warm-up: oneDNN primitive creation, allocator
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def gemm_peak(dtype: torch.dtype, n: int = 2048, reps: int = 5) -> float:
    """Measured GFLOP/s of a large square GEMM: the practical peak of this machine in `dtype`."""
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    if dtype == torch.bfloat16 and not native_bf16(torch.device("cpu")):
        n, reps = 256, 1  # emulated bf16 GEMM is orders of magnitude slower; keep it short
        a, b = a[:n, :n].contiguous(), b[:n, :n].contiguous()
    return 2 * n**3 / _median_time(lambda: a @ b, reps) / 1e9


class GemmConv(nn.Module):
    """A 4x4 stride-2 conv (or its transpose) as unfold/fold + one matmul, same weights."""

    def __init__(self, conv: nn.Module):
        super().__init__()
        self.conv = conv

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = self.conv
        k, s, p = c.kernel_size, c.stride, c.padding
        b, _, h, w = x.shape
        if isinstance(c, nn.ConvTranspose2d):
            # x (B, Cin, H, W) -> cols (B, Cout*k*k, H*W) -> fold to (B, Cout, sH, sW)
            wmat = c.weight.reshape(c.in_channels, -1)  # (Cin, Cout*k*k)
            cols = wmat.t() @ x.reshape(b, c.in_channels, h * w)
            out_hw = ((h - 1) * s[0] - 2 * p[0] + k[0], (w - 1) * s[1] - 2 * p[1] + k[1])
            return F.fold(cols, out_hw, k, padding=p, stride=s)
        cols = F.unfold(x, k, padding=p, stride=s)  # (B, Cin*k*k, L)
        out = c.weight.reshape(c.out_channels, -1) @ cols
        ho = (h + 2 * p[0] - k[0]) // s[0] + 1
        return out.reshape(b, c.out_channels, ho, -1)


def vae_layers(vae: VAE, batch: int, image: int) -> list[tuple[str, nn.Module, tuple[int, ...]]]:
    """(name, module, input shape) for every weight layer of the VAE, in execution order."""
    rows, shape = [], (batch, 3, image, image)
    convs = [m for m in vae.encoder if isinstance(m, nn.Conv2d)]
    for i, c in enumerate(convs):
        rows.append((f"enc conv{i + 1} {c.in_channels}->{c.out_channels}", c, shape))
        shape = (batch, c.out_channels, shape[2] // 2, shape[3] // 2)
    flat = (batch, convs[-1].out_channels * 4)
    rows.append(("fc_mu + fc_logvar", nn.Linear(flat[1], 2 * vae.fc_mu.out_features), flat))
    rows.append(("fc_dec", vae.fc_dec, (batch, vae.fc_mu.out_features)))
    shape = (batch, vae._top, 4, 4)
    for m in vae.decoder:
        if isinstance(m, nn.ConvTranspose2d):
            rows.append((f"dec deconv {m.in_channels}->{m.out_channels}", m, shape))
            s = m.stride[0]
            shape = (batch, m.out_channels, shape[2] * s, shape[3] * s)
    return rows


def macs(module: nn.Module, shape: tuple[int, ...]) -> int:
    if isinstance(module, nn.Linear):
        return shape[0] * module.in_features * module.out_features
    k = module.kernel_size[0] * module.kernel_size[1]
    if isinstance(module, nn.ConvTranspose2d):  # every input pixel scatters a k*k*Cout patch
        return shape[0] * shape[2] * shape[3] * module.in_channels * module.out_channels * k
    ho = (shape[2] + 2 * module.padding[0] - module.kernel_size[0]) // module.stride[0] + 1
    return shape[0] * ho * ho * module.in_channels * module.out_channels * k


def fwd_bwd(module: nn.Module, x: torch.Tensor, precision: str) -> Callable[[], None]:
    def run():
        module.zero_grad(set_to_none=True)
        if x.grad is not None:
            x.grad = None
        ctx = (
            torch.autocast("cpu", dtype=torch.bfloat16)
            if precision == "bf16"
            else torch.autocast("cpu", enabled=False)
        )
        with ctx:
            out = module(x)
        out.float().sum().backward()

    return run


def iteration_gflop(width: int, batch: int) -> dict[str, float]:
    """GFLOP of each part of one VAAL iteration, counted by FlopCounterMode on the meta device
    (shapes only, no compute): what any path must execute, whatever its speed."""
    from torch.utils.flop_counter import FlopCounterMode

    from vaal_core.models import fresh_task_model
    from vaal_core.spec import TaskSpec
    from vaal_core.vaal import Discriminator

    meta = torch.device("meta")
    vae, disc = VAE(3, 32, 32, width).to(meta), Discriminator(32).to(meta)
    task = fresh_task_model(TaskSpec(model="vgg16_bn"), 3, 10, meta)
    x = torch.randn(batch, 3, 32, 32, device=meta)
    y = torch.zeros(batch, dtype=torch.long, device=meta)

    def count(fn) -> float:
        with FlopCounterMode(display=False) as fc:
            fn()
        return fc.get_total_flops() / 1e9

    def vae_step():
        r_l, _, mu_l, _ = vae(x)
        r_u, _, mu_u, _ = vae(x)
        (r_l.sum() + r_u.sum() + disc(mu_l).sum() + disc(mu_u).sum()).backward()

    def disc_step(encoder_only: bool):
        with torch.no_grad():
            mus = [vae.encode(x)[0] if encoder_only else vae(x)[2] for _ in range(2)]
        sum(disc(m).sum() for m in mus).backward()

    return {
        "task step": count(lambda: F.cross_entropy(task(x), y).backward()),
        "VAE step": count(vae_step),
        "disc step, whole VAE (reference)": count(lambda: disc_step(False)),
        "disc step, encoder only (fast)": count(lambda: disc_step(True)),
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--width", type=int, default=128)
    ap.add_argument("--reps", type=int, default=3, help="timed repeats (median) for fp32 paths")
    ap.add_argument("--bf16-reps", type=int, default=1, help="timed repeats for bf16 (0: skip)")
    ap.add_argument("--skip", type=int, default=0, help="leave out the first N layers")
    args = ap.parse_args()

    gf = iteration_gflop(args.width, args.batch)
    ref = gf["task step"] + 2 * gf["VAE step"] + gf["disc step, whole VAE (reference)"]
    fast = gf["task step"] + 2 * gf["VAE step"] + gf["disc step, encoder only (fast)"]
    print("| part of one VAAL iteration | GFLOP (fwd+bwd) |\n|---|---|")
    for k, v in gf.items():
        print(f"| {k} | {v:.1f} |")
    print(f"| **iteration: reference / fast** | {ref:.1f} / {fast:.1f} (ratio {ref / fast:.3f}) |")
    print()

    torch.manual_seed(0)
    vae = VAE(3, 32, 32, args.width)
    peak32, peak16 = gemm_peak(torch.float32), gemm_peak(torch.bfloat16)
    print(
        f"# VAE layers, batch {args.batch}, width {args.width}: {cpu_model_name()} "
        f"({platform.machine()}), torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"native bf16 (oneDNN): {native_bf16(torch.device('cpu'))}"
    )
    print(f"# measured GEMM peak: fp32 {peak32:.1f} GFLOP/s, bf16 {peak16:.2f} GFLOP/s")
    print()
    print(
        "| layer | input | fwd+bwd GFLOP | fp32 s | fp32 CL s | fp32 GEMM s | bf16 s "
        "| bf16/fp32 | best fp32 GFLOP/s | row peak GFLOP/s | % of row peak "
        "| bf16 % of row peak |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    totals = {"fp32": 0.0, "cl": 0.0, "gemm": 0.0, "bf16": 0.0, "best": 0.0, "flop": 0.0}
    for i, (name, mod, shape) in enumerate(vae_layers(vae, args.batch, 32)):
        if i < args.skip:
            continue
        first = i == 0
        row_peak = gemm_peak(torch.float32, n=1024, reps=3)
        flop = 2 * macs(mod, shape) * (2 if first else 3) / 1e9
        x = torch.randn(shape, requires_grad=not first)
        t32 = _median_time(fwd_bwd(mod, x, "fp32"), args.reps)
        tcl = tgemm = float("nan")
        if x.dim() == 4:
            mod_cl = mod.to(memory_format=torch.channels_last)
            x_cl = (
                x.detach().contiguous(memory_format=torch.channels_last).requires_grad_(not first)
            )
            tcl = _median_time(fwd_bwd(mod_cl, x_cl, "fp32"), args.reps)
            mod.to(memory_format=torch.contiguous_format)
            tgemm = _median_time(fwd_bwd(GemmConv(mod), x, "fp32"), args.reps)
        t16 = _median_time(fwd_bwd(mod, x, "bf16"), args.bf16_reps) if args.bf16_reps else math.nan
        best = min(t for t in (t32, tcl, tgemm) if t == t)
        totals["fp32"] += t32
        totals["cl"] += tcl if tcl == tcl else t32
        totals["gemm"] += tgemm if tgemm == tgemm else t32
        totals["bf16"] += t16 if t16 == t16 else 0.0
        totals["best"] += best
        totals["flop"] += flop
        fmt = lambda t: "-" if t != t else f"{t:.3f}"  # noqa: E731
        print(
            f"| {name} | {'x'.join(map(str, shape))} | {flop:.1f} | {t32:.3f} | {fmt(tcl)} "
            f"| {fmt(tgemm)} | {t16:.3f} | {t16 / t32:.1f}x | {flop / best:.1f} "
            f"| {row_peak:.0f} | {100 * flop / best / row_peak:.0f}% "
            f"| {100 * flop / t16 / row_peak:.1f}% |",
            flush=True,
        )
    t = totals
    print(
        f"| **sum** | | {t['flop']:.1f} | {t['fp32']:.3f} | {t['cl']:.3f} | {t['gemm']:.3f} "
        f"| {t['bf16']:.3f} | {t['bf16'] / t['fp32']:.1f}x | {t['flop'] / t['best']:.1f} "
        f"| | | |"
    )
    print(f"# measured GEMM peak at the end: fp32 {gemm_peak(torch.float32):.1f} GFLOP/s")
    print()
    print(
        f"against the first peak figure: fp32 NCHW reaches {100 * t['flop'] / t['fp32'] / peak32:.0f}% of the measured fp32 "
        f"GEMM peak; the best fp32 variant per layer {100 * t['flop'] / t['best'] / peak32:.0f}%; "
        f"bf16 autocast {100 * t['flop'] / t['bf16'] / peak32 if t['bf16'] else math.nan:.1f}%."
    )


if __name__ == "__main__":
    main()
