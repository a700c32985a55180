"""Batched image pipeline: uint8 batches to normalised float, with augmentation as tensor ops.

This replaces torchvision's per-sample PIL transforms (RandomCrop(pad 4) + RandomHorizontalFlip
+ ToTensor + Normalize) with the same operations on a whole batch, on whichever device holds it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def normalize(x: torch.Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    """uint8 (B, C, H, W) -> float32 normalised."""
    m = torch.tensor(mean, device=x.device).view(1, -1, 1, 1) * 255.0
    s = torch.tensor(std, device=x.device).view(1, -1, 1, 1) * 255.0
    return (x.float() - m) / s


def random_crop_flip(
    x: torch.Tensor, generator: torch.Generator | None = None, pad: int = 4
) -> torch.Tensor:
    """Random crop after zero padding, then random horizontal flip, per image, in one gather."""
    b, c, h, w = x.shape
    gen_dev = generator.device if generator is not None else torch.device("cpu")
    dy = torch.randint(0, 2 * pad + 1, (b,), generator=generator, device=gen_dev).to(x.device)
    dx = torch.randint(0, 2 * pad + 1, (b,), generator=generator, device=gen_dev).to(x.device)
    flip = (torch.rand(b, generator=generator, device=gen_dev) < 0.5).to(x.device)
    padded = F.pad(x, (pad, pad, pad, pad))
    rows = dy.view(b, 1) + torch.arange(h, device=x.device).view(1, h)  # (b, h)
    cols = torch.arange(w, device=x.device).view(1, w)
    cols = torch.where(flip.view(b, 1), w - 1 - cols, cols) + dx.view(b, 1)  # (b, w)
    bi = torch.arange(b, device=x.device).view(b, 1, 1)
    out = padded.permute(0, 2, 3, 1)[bi, rows.view(b, h, 1), cols.view(b, 1, w)]  # (b, h, w, c)
    return out.permute(0, 3, 1, 2).contiguous()
