"""Batched image pipeline: uint8 batches to normalised float, with augmentation as tensor ops.

This replaces torchvision's per-sample PIL transforms (RandomCrop(pad 4) + RandomHorizontalFlip
+ ToTensor + Normalize) with the same operations on a whole batch, on whichever device holds it.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from ..registry import Registry
from ..spec import names


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


def random_flip(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Horizontal flip of a random half of the batch (the originals' only CIFAR augmentation)."""
    gen_dev = generator.device if generator is not None else torch.device("cpu")
    flip = (torch.rand(x.shape[0], generator=generator, device=gen_dev) < 0.5).to(x.device)
    return torch.where(flip.view(-1, 1, 1, 1), x.flip(-1), x)


def random_resized_crop_flip(
    x: torch.Tensor,
    size: int,
    generator: torch.Generator | None = None,
    scale: tuple[float, float] = (0.08, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
) -> torch.Tensor:
    """RandomResizedCrop + RandomHorizontalFlip (Szegedy et al., CVPR 2015) for a whole batch.

    Each image draws an area fraction in `scale` and a log-uniform aspect ratio in `ratio`; the
    crop is sampled bilinearly (one `grid_sample`) to `size` x `size`. Where torchvision retries up
    to 10 times and then falls back to a centre crop, a crop wider or taller than the image is
    clamped to it here (same support, one draw). Returns float in [0, 255].
    """
    b, _, h, w = x.shape
    gen_dev = generator.device if generator is not None else torch.device("cpu")

    def u(lo: float, hi: float) -> torch.Tensor:
        return lo + (hi - lo) * torch.rand(
            b, generator=generator, device=gen_dev, dtype=torch.float64
        )

    area = u(*scale)
    log_r = u(float(torch.tensor(ratio[0]).log()), float(torch.tensor(ratio[1]).log()))
    cw = (area * log_r.exp()).sqrt().clamp(max=1.0)  # crop width as a fraction of the image width
    ch = (area / log_r.exp()).sqrt().clamp(max=1.0)
    cx = u(0, 1) * (1 - cw) + cw / 2  # crop centre in [0, 1]
    cy = u(0, 1) * (1 - ch) + ch / 2
    flip = torch.where(u(0, 1) < 0.5, -1.0, 1.0)
    theta = torch.zeros(b, 2, 3, dtype=torch.float64)
    theta[:, 0, 0], theta[:, 0, 2] = cw * flip, 2 * cx - 1
    theta[:, 1, 1], theta[:, 1, 2] = ch, 2 * cy - 1
    theta = theta.to(device=x.device, dtype=torch.float32)
    grid = F.affine_grid(theta, [b, x.shape[1], size, size], align_corners=False)
    return F.grid_sample(
        x.float(), grid, mode="bilinear", padding_mode="border", align_corners=False
    )


def center_crop(x: torch.Tensor, size: int) -> torch.Tensor:
    """The central `size` x `size` window (evaluation view of a cached image: 256 -> 224)."""
    h, w = x.shape[-2:]
    if (h, w) == (size, size):
        return x
    if h < size or w < size:
        raise ValueError(f"cannot centre-crop {h}x{w} images to {size}")
    top, left = (h - size) // 2, (w - size) // 2
    return x[..., top : top + size, left : left + size]


def _crop_flip(x: torch.Tensor, size: int, generator: torch.Generator | None) -> torch.Tensor:
    return random_crop_flip(center_crop(x, size), generator)


def _flip(x: torch.Tensor, size: int, generator: torch.Generator | None) -> torch.Tensor:
    return random_flip(center_crop(x, size), generator)


def paired_crop_flip(
    x: torch.Tensor,
    y: torch.Tensor | None,
    size: int,
    generator: torch.Generator | None = None,
    crop: bool = True,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """A random `size` x `size` window and a random horizontal flip per image, applied with ONE
    draw to an image batch (B, C, H, W) and its mask batch (B, H, W): a pixel keeps its label.

    Offsets are uniform over the valid positions (no padding, so no invented pixels); with
    `crop=False` only the flip is drawn and the whole image is kept. The draw is the same whether
    or not masks are given, so images-only callers (VAAL's VAE) see the same views.
    """
    b, c, h, w = x.shape
    if crop and (size > h or size > w):
        raise ValueError(f"cannot crop {size}x{size} windows from {h}x{w} images")
    oh, ow = (size, size) if crop else (h, w)
    gen_dev = generator.device if generator is not None else torch.device("cpu")
    top = torch.randint(0, h - oh + 1, (b,), generator=generator, device=gen_dev).to(x.device)
    left = torch.randint(0, w - ow + 1, (b,), generator=generator, device=gen_dev).to(x.device)
    flip = (torch.rand(b, generator=generator, device=gen_dev) < 0.5).to(x.device)
    rows = top.view(b, 1) + torch.arange(oh, device=x.device).view(1, oh)  # (b, oh)
    cols = torch.arange(ow, device=x.device).view(1, ow)
    cols = torch.where(flip.view(b, 1), ow - 1 - cols, cols) + left.view(b, 1)  # (b, ow)
    bi = torch.arange(b, device=x.device).view(b, 1, 1)
    r, q = rows.view(b, oh, 1), cols.view(b, 1, ow)
    out = x.permute(0, 2, 3, 1)[bi, r, q].permute(0, 3, 1, 2).contiguous()
    return out, (None if y is None else y[bi, r, q].contiguous())


def _pair_flip(x, y, size, generator, crop: bool = False):
    return paired_crop_flip(x, y, size, generator, crop=False)


# name -> (uint8 image batch, mask batch or None, crop size, generator) -> (images, masks)
PAIR_AUGMENTATIONS: Registry[Callable] = Registry(
    "paired augmentation", ValueError, declared=names.PAIR_AUGMENTATIONS
)
PAIR_AUGMENTATIONS.add("seg_crop_flip", paired_crop_flip)
PAIR_AUGMENTATIONS.add("seg_flip", _pair_flip)
PAIR_AUGMENTATIONS.check_declared()

# name -> (uint8 batch, output size, generator) -> augmented batch; `task.augmentation` picks one
AUGMENTATIONS: Registry[Callable] = Registry(
    "augmentation", ValueError, declared=names.AUGMENTATIONS
)
AUGMENTATIONS.add("flip", _flip)
AUGMENTATIONS.add("crop_flip", _crop_flip)
AUGMENTATIONS.add("rrc_flip", random_resized_crop_flip)
AUGMENTATIONS.check_declared()
