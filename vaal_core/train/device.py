"""Device, precision and seeding: the few places where CPU and CUDA differ."""

from __future__ import annotations

import contextlib
import logging
import platform
import random

import numpy as np
import torch

from ..errors import DeviceError

log = logging.getLogger("vaal_core")


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise DeviceError(
            "spec asks for runtime.device=cuda but no CUDA device is visible; use auto or cpu"
        )
    return torch.device(name)


def check_precision(precision: str, device: torch.device) -> None:
    if precision == "fp16" and device.type != "cuda":
        raise DeviceError("runtime.precision=fp16 needs CUDA; on CPU use bf16 or fp32")
    if precision == "bf16" and not native_bf16(device):
        log.warning(
            "runtime.precision=bf16 on a CPU without bf16 instructions (%s): oneDNN emulates "
            "bf16 convolutions, measured 10-30x slower than fp32 here; fp32 is faster on this "
            "machine (benchmarks/layers_vaal.py)",
            torch.backends.cpu.get_cpu_capability(),
        )


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """Mixed precision for the forward pass; fp32 is the plain eager path."""
    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype)


def grad_scaler(device: torch.device, precision: str) -> torch.amp.GradScaler:
    """Loss scaling is needed for fp16 only; a disabled scaler is a no-op otherwise."""
    return torch.amp.GradScaler(device.type, enabled=precision == "fp16")


def device_index(idx: torch.Tensor, device: torch.device) -> torch.Tensor:
    """A host index tensor on `device` without making the host wait: pinned, non-blocking copy.

    Used once per pass over a set (not per batch); slices of the result are device views.
    """
    if device.type != "cuda":
        return idx
    return idx.pin_memory().to(device, non_blocking=True)


def seed_everything(*keys: int) -> torch.Generator:
    """Seed the global RNGs from a tuple (run seed, cycle, purpose) and return a torch Generator."""
    seed = int(np.random.SeedSequence(list(keys)).generate_state(1)[0])
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    g = torch.Generator()
    g.manual_seed(seed)
    return g


def peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    try:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    except ImportError:  # pragma: no cover - non-Unix
        return float("nan")


def native_bf16(device: torch.device) -> bool:
    """Whether bf16 matmuls/convs run on bf16 hardware (CUDA, AVX512-BF16, AMX).

    On an AVX2-only CPU (e.g. AMD EPYC Zen 3) oneDNN has no bf16 kernels and bf16 convolutions
    fall back to reference code, measured 10-1000x slower than fp32 (benchmarks/layers_vaal.py).
    """
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def cpu_model_name() -> str:
    """The CPU's marketing name (for benchmark tables), from /proc/cpuinfo where available."""
    from ..run.runlog import cpu_model

    name = cpu_model()
    try:
        flags = open("/proc/cpuinfo").read()
        isa = [f for f in ("avx512_bf16", "amx_bf16", "avx512f", "avx2") if f" {f}" in flags]
        return (
            f"{name} [{torch.backends.cpu.get_cpu_capability()}; {','.join(isa[:2]) or 'no AVX'}]"
        )
    except OSError:
        return platform.processor() or platform.machine()
