"""Device, precision and seeding: the few places where CPU and CUDA differ."""

from __future__ import annotations

import contextlib
import random

import numpy as np
import torch

from .errors import DeviceError


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


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """Mixed precision for the forward pass; fp32 is the plain eager path."""
    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype)


def grad_scaler(device: torch.device, precision: str) -> torch.amp.GradScaler:
    """Loss scaling is needed for fp16 only; a disabled scaler is a no-op otherwise."""
    return torch.amp.GradScaler(device.type, enabled=precision == "fp16")


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
