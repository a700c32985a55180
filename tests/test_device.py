"""Device and precision choices fail early with advice; the CPU stands in for CUDA-only paths."""

from __future__ import annotations

import pytest
import torch

from tests.helpers import tiny_spec
from vaal_core.run.loop import ActiveLoop
from vaal_core.train.augment import random_crop_flip
from vaal_core.train.device import autocast, check_precision, grad_scaler, resolve_device


def test_fp16_is_refused_on_cpu_with_advice():
    with pytest.raises(RuntimeError, match="fp16 needs CUDA; on CPU use bf16 or fp32"):
        check_precision("fp16", torch.device("cpu"))
    check_precision("bf16", torch.device("cpu"))


def test_cuda_request_resolves_or_explains(tmp_path):
    if torch.cuda.is_available():  # on a GPU machine the request simply resolves
        assert resolve_device("cuda").type == "cuda"
        return
    with pytest.raises(RuntimeError, match="no CUDA device is visible"):
        resolve_device("cuda")
    with pytest.raises(RuntimeError, match="no CUDA device"):
        ActiveLoop(tiny_spec(runtime={"device": "cuda"}), "random", 0, tmp_path, progress=False)
    assert not (tmp_path / "tiny").exists()


def test_bf16_autocast_runs_convs_in_bf16_and_fp32_is_plain():
    conv = torch.nn.Conv2d(1, 2, 3)
    x = torch.randn(1, 1, 5, 5)
    with autocast(torch.device("cpu"), "bf16"):
        assert conv(x).dtype == torch.bfloat16
    with autocast(torch.device("cpu"), "fp32"):
        assert conv(x).dtype == torch.float32
    assert not grad_scaler(torch.device("cpu"), "bf16").is_enabled()


def test_batched_crop_flip_matches_a_per_image_reference():
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (6, 3, 8, 8), dtype=torch.uint8)
    out = random_crop_flip(x, g, pad=2)
    g = torch.Generator().manual_seed(0)  # replay the same draws
    dy = torch.randint(0, 5, (6,), generator=g)
    dx = torch.randint(0, 5, (6,), generator=g)
    flip = torch.rand(6, generator=g) < 0.5
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    for i in range(6):
        crop = padded[i, :, dy[i] : dy[i] + 8, dx[i] : dx[i] + 8]
        expected = crop.flip(-1) if flip[i] else crop
        assert torch.equal(out[i], expected)
    assert out.dtype == torch.uint8 and out.shape == x.shape
