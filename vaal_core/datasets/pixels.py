"""Any image Pillow opens, as the 8-bit grey or RGB picture a person sees in a viewer.

Pillow's own `convert("L")` clips wider values instead of scaling them (a 16-bit PNG comes out
nearly white, a float image in [0, 1] black) and drops transparency (what lies under a
transparent pixel is shown, often black). `viewable` applies one rule per kind of mode:
- 16-bit integers (`I;16`, `I;16B`, `I;16L`, ...): the range the format declares, 0..65535,
  scaled to 0..255 (`v * 255 / 65535`, rounded);
- 32-bit integers (`I`): the range the file declares where it declares one (a TIFF's
  `BitsPerSample` below 32; PNG, PGM/PPM and the rest hold at most 16 bits in this mode, which
  Pillow scales to 0..65535), else the image's real range, 0 (or its minimum, if negative) to its
  maximum;
- floats (`F`): 0..1 when every value lies in it (the common float-image convention), else the
  real range as for `I`; NaN reads as the low end;
- transparency (an alpha channel: `LA`, `RGBA`, `PA`, premultiplied `La`/`RGBa`, or a palette's
  or grey image's transparent colour): composited over a white background (`BACKGROUND`), as
  a page with a white background shows it (one fixed, stated choice);
- palettes (`P`): their colours; grey when every colour the image uses is grey;
- 1-bit: 0 or 255; `CMYK`, `YCbCr`, `RGBX` and the rest: Pillow's conversion to RGB (a mode
  it cannot convert fails the decode check, which names the file).
The result is mode `L` (grey) or `RGB`. `DECODING` names this rule in the cache key, so a cache
decoded under an older rule is never reused.
"""

from __future__ import annotations

import numpy as np

DECODING = 2  # 1: Pillow's plain convert (before this module); 2: the rule above
BACKGROUND = 255  # white, in every channel: what shows through transparent pixels
_ALPHA = frozenset({"LA", "La", "RGBA", "RGBa"})


def viewable(im):
    """`im` (a loaded PIL image) as mode `L` or `RGB`, by the rule in the module docstring."""
    mode, clear = im.mode, im.info.get("transparency")  # a colour marked transparent
    if mode in ("L", "RGB") and clear is None:
        return im
    if mode.startswith("I;16") or mode in ("I", "F"):
        raw = np.asarray(im)
        a = raw.astype(np.float64)
        lo, hi = (0.0, 65535.0) if mode.startswith("I;16") else _range(im, a)
        img = _scaled(a, lo, hi)
        if clear is None:
            return img
        return _over_background(img, np.where(raw == clear, 0, 255).astype(np.uint8), True)
    if mode == "1":
        return im.convert("L")
    if mode in ("P", "PA"):
        grey = _grey_palette(im)
        if clear is None and mode == "P" and im.palette.mode != "RGBA":
            rgb = im.convert("RGB")
            return rgb.convert("L") if grey else rgb
        rgba = np.asarray(im.convert("RGBA"))
        return _over_background(rgba[..., :3], rgba[..., 3], grey)
    if mode in _ALPHA or clear is not None:  # LA, La, RGBA, RGBa; L or RGB with a clear colour
        grey = mode in ("L", "LA", "La")
        a = np.asarray(im.convert("LA" if grey else "RGBA"))
        return _over_background(a[..., :-1], a[..., -1], grey)
    return im.convert("RGB")  # CMYK, YCbCr, RGBX, ...: Pillow's conversion


def _range(im, a: np.ndarray) -> tuple[float, float]:
    """(low, high) that map to 0 and 255 for an `I` or `F` image."""
    if im.mode == "I":
        bits = _declared_bits(im)
        if bits is not None:
            return 0.0, float(2**bits - 1)
    finite = a[np.isfinite(a)]
    if finite.size == 0:
        return 0.0, 1.0
    vmin, vmax = float(finite.min()), float(finite.max())
    if im.mode == "F" and vmin >= 0.0 and vmax <= 1.0:
        return 0.0, 1.0
    lo = min(0.0, vmin)
    return lo, vmax if vmax > lo else lo + 1.0


def _declared_bits(im) -> int | None:
    """The bits per sample an `I` image's file declares, where they are fewer than 32."""
    fmt = (im.format or "").upper()
    if fmt == "TIFF":
        bits = getattr(im, "tag_v2", {}).get(258)  # BitsPerSample
        bits = bits[0] if isinstance(bits, tuple) else bits
        return int(bits) if bits and int(bits) < 32 else None
    if fmt in ("PNG", "PPM"):  # at most 16 bits per sample, scaled by Pillow to 0..65535
        return 16
    return None


def _scaled(a: np.ndarray, lo: float, hi: float):
    from PIL import Image

    a = np.nan_to_num(a.astype(np.float64), nan=lo, posinf=hi, neginf=lo)
    out = np.clip(np.rint((a - lo) * (255.0 / (hi - lo))), 0, 255).astype(np.uint8)
    return Image.fromarray(out)


def _grey_palette(im) -> bool:
    pal = np.asarray(im.getpalette("RGB") or [], dtype=np.uint8).reshape(-1, 3)
    used = np.unique(np.asarray(im))
    used = used[used < len(pal)]
    return bool(len(used)) and bool((pal[used] == pal[used, :1]).all())


def _over_background(color: np.ndarray, alpha: np.ndarray, grey: bool):
    """`color` (H, W[, C]) over `BACKGROUND` by `alpha` (H, W), 8-bit, rounded."""
    from PIL import Image

    c = np.asarray(color).astype(np.float64)
    if c.ndim == 3 and grey:
        c = c[..., 0]
    w = alpha.astype(np.float64) / 255.0
    w = w[..., None] if c.ndim == 3 else w
    out = np.rint(c * w + BACKGROUND * (1.0 - w)).astype(np.uint8)
    return Image.fromarray(out)
