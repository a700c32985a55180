"""Every image mode Pillow opens is decoded to what a person sees (vaal_core/datasets/pixels.py).

Each test writes one image in one mode from a reference made by hand (8-bit grey or RGB, with
known values), and the decoded or cached pixels must equal that reference: a 16-bit PNG is not
saturated, a float image not black, a transparent pixel shows the white background."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from vaal_core.datasets import LoadOptions, load_dataset
from vaal_core.datasets import imagefolder as imf
from vaal_core.datasets.pixels import BACKGROUND

SIDE = 37  # = the cache resolution at image_size 32: cached as is, never resized
QUIET = LoadOptions(progress=False, cache_workers=1)


def _grey() -> np.ndarray:
    """(SIDE, SIDE) uint8: a bright digit-like bar on a dark ground, every value 0..255 once."""
    g = np.zeros((SIDE, SIDE), np.uint8)
    g[4:33, 15:22] = 200  # the stroke
    g[0, :] = np.arange(SIDE) * 7  # a ramp: 0, 7, ..., 252
    g[1, : 256 // 7] = 255  # the top of the range
    g.flat[-256:] = np.arange(256)  # every value, so nothing is lost at either end
    return g


def _rgb() -> np.ndarray:
    """(SIDE, SIDE, 3): four flat quadrants of known colours."""
    c = np.zeros((SIDE, SIDE, 3), np.uint8)
    h = SIDE // 2
    c[:h, :h] = (255, 0, 0)
    c[:h, h:] = (0, 255, 0)
    c[h:, :h] = (0, 0, 255)
    c[h:, h:] = (255, 255, 255)
    return c


def _alpha() -> np.ndarray:
    """Opaque left half, transparent right quarter, 20% opaque in between."""
    a = np.full((SIDE, SIDE), 255, np.uint8)
    a[:, 20:28] = 51
    a[:, 28:] = 0
    return a


# ----------------------------------------------------------------------------- one file per mode
def _i16(folder: Path) -> tuple[Path, np.ndarray]:
    path = folder / "i16.png"
    Image.fromarray(_grey().astype(np.uint16) * 257).save(path)  # 16-bit PNG: 0..65535
    return path, _grey()


def _i16_big_endian(folder: Path) -> tuple[Path, np.ndarray]:
    path = folder / "i16b.tif"
    Image.fromarray((_grey().astype(np.uint16) * 257).astype(">u2")).save(path)
    return path, _grey()


def _i16_pgm(folder: Path) -> tuple[Path, np.ndarray]:  # Pillow opens it as mode I
    path = folder / "i16.pgm"
    Image.fromarray(_grey().astype(np.uint16) * 257).save(path)
    return path, _grey()


def _i32(folder: Path) -> tuple[Path, np.ndarray]:  # no declared range: 0 .. its maximum
    path = folder / "i32.tif"
    Image.fromarray(_grey().astype(np.int32) * 1000).save(path)
    return path, _grey()


def _i32_negative(folder: Path) -> tuple[Path, np.ndarray]:  # its minimum .. its maximum
    path = folder / "i32neg.tif"
    Image.fromarray(_grey().astype(np.int32) - 128).save(path)
    return path, _grey()


def _float_unit(folder: Path) -> tuple[Path, np.ndarray]:  # 0..1
    path = folder / "f.tif"
    Image.fromarray(_grey().astype(np.float32) / 255).save(path)
    return path, _grey()


def _float_wide(folder: Path) -> tuple[Path, np.ndarray]:  # 0 .. its maximum (1020)
    path = folder / "f_wide.tif"
    Image.fromarray(_grey().astype(np.float32) * 4).save(path)
    return path, _grey()


def _la(folder: Path) -> tuple[Path, np.ndarray]:
    path = folder / "la.png"
    g = np.full((SIDE, SIDE), 40, np.uint8)
    Image.fromarray(np.stack([g, _alpha()], -1), "LA").save(path)
    ref = np.full((SIDE, SIDE), 40, np.uint8)
    ref[:, 20:28] = 212  # 40 x 0.2 + 255 x 0.8
    ref[:, 28:] = BACKGROUND
    return path, ref


def _rgba(folder: Path) -> tuple[Path, np.ndarray]:
    path = folder / "rgba.png"
    Image.fromarray(np.dstack([_rgb(), _alpha()]), "RGBA").save(path)
    ref = _rgb().copy()
    ref[:, 20:28] = np.where(_rgb()[:, 20:28] == 255, 255, 204)  # 0 x 0.2 + 255 x 0.8
    ref[:, 28:] = BACKGROUND
    return path, ref


def _palette_transparent(folder: Path) -> tuple[Path, np.ndarray]:
    path = folder / "p_clear.png"
    idx = np.zeros((SIDE, SIDE), np.uint8)
    idx[:, 10:20], idx[:, 20:] = 1, 2  # colour 2 is transparent
    im = Image.fromarray(idx, "P")
    im.putpalette([10, 20, 30, 200, 100, 0, 0, 0, 0])
    im.save(path, transparency=2)
    ref = np.zeros((SIDE, SIDE, 3), np.uint8)
    ref[:, :10], ref[:, 10:20], ref[:, 20:] = (10, 20, 30), (200, 100, 0), BACKGROUND
    return path, ref


def _palette_grey(folder: Path) -> tuple[Path, np.ndarray]:  # every entry grey: one channel
    path = folder / "p_grey.gif"
    idx = np.zeros((SIDE, SIDE), np.uint8)
    idx[:, 18:] = 1
    im = Image.fromarray(idx, "P")
    im.putpalette([30, 30, 30, 220, 220, 220])
    im.save(path)
    return path, np.where(idx == 1, 220, 30).astype(np.uint8)


def _one_bit(folder: Path) -> tuple[Path, np.ndarray]:
    path = folder / "one.png"
    ref = np.where(_grey() >= 128, 255, 0).astype(np.uint8)
    Image.fromarray(ref > 0).save(path)  # mode 1
    return path, ref


def _cmyk(folder: Path) -> tuple[Path, np.ndarray]:
    path = folder / "cmyk.tif"
    ink = np.zeros((SIDE, SIDE, 4), np.uint8)
    h = SIDE // 2
    ink[:h, :h] = (0, 255, 255, 0)  # magenta + yellow: red
    ink[:h, h:] = (255, 0, 255, 0)  # cyan + yellow: green
    ink[h:, :h] = (255, 255, 0, 0)  # cyan + magenta: blue
    ink[h:, h:] = (0, 0, 0, 0)  # no ink: white paper
    Image.fromarray(ink, "CMYK").save(path)
    return path, _rgb()


def _ycbcr(folder: Path) -> tuple[Path, np.ndarray]:
    path = folder / "ycbcr.tif"
    Image.fromarray(_rgb()).convert("YCbCr").save(path)
    return path, _rgb()


def _exif_rotated(folder: Path) -> tuple[Path, np.ndarray]:
    """A 16-bit PNG stored sideways with an EXIF orientation: upright and scaled."""
    path = folder / "rotated.png"
    exif = Image.Exif()
    exif[0x0112] = 6  # shown rotated 90 degrees clockwise
    stored = np.rot90(_grey(), 1)  # what rotating 90 clockwise turns into _grey()
    Image.fromarray(stored.astype(np.uint16) * 257).save(path, exif=exif)
    return path, _grey()


MODES = {
    "I;16": _i16,
    "I;16B": _i16_big_endian,
    "I (16-bit PGM)": _i16_pgm,
    "I": _i32,
    "I (negative)": _i32_negative,
    "F": _float_unit,
    "F (wide)": _float_wide,
    "LA": _la,
    "RGBA": _rgba,
    "P + transparency": _palette_transparent,
    "P (grey palette)": _palette_grey,
    "1": _one_bit,
    "CMYK": _cmyk,
    "YCbCr": _ycbcr,
    "EXIF orientation": _exif_rotated,
}
OPENED_AS = {  # the mode Pillow opens each file in: the test covers what it says
    "I;16": "I;16",
    "I;16B": "I;16B",
    "I (16-bit PGM)": "I",
    "I": "I",
    "I (negative)": "I",
    "F": "F",
    "F (wide)": "F",
    "LA": "LA",
    "RGBA": "RGBA",
    "P + transparency": "P",
    "P (grey palette)": "P",
    "1": "1",
    "CMYK": "CMYK",
    "YCbCr": "YCbCr",
    "EXIF orientation": "I;16",
}


@pytest.mark.parametrize("mode", list(MODES))
def test_each_mode_decodes_to_its_reference(tmp_path, mode):
    path, ref = MODES[mode](tmp_path)
    with Image.open(path) as im:
        assert im.mode == OPENED_AS[mode]
    got = np.asarray(imf.decode(path))
    assert got.shape == ref.shape, f"{mode}: {got.shape} (expected {ref.shape})"
    tolerance = 2 if mode == "YCbCr" else 0  # Pillow's YCbCr round trip rounds
    diff = np.abs(got.astype(int) - ref.astype(int)).max()
    assert diff <= tolerance, f"{mode}: off by up to {diff}"


def _folder(root: Path) -> dict[str, np.ndarray]:
    """train/modes/ holds one image per mode, train/plain/ and test/ an ordinary image each."""
    refs = {}
    (root / "train" / "modes").mkdir(parents=True)
    for write in MODES.values():
        path, ref = write(root / "train" / "modes")
        refs[path.relative_to(root).as_posix()] = ref
    for rel in ("train/plain/a.png", "test/modes/b.png", "test/plain/c.png"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(_rgb()).save(root / rel)
    return refs


def _as_rgb(ref: np.ndarray) -> np.ndarray:
    return np.repeat(ref[..., None], 3, axis=2) if ref.ndim == 2 else ref


def _check_cached(rows: torch.Tensor, paths: list[str], refs: dict[str, np.ndarray]) -> None:
    for path, row in zip(paths, rows, strict=True):
        if path not in refs:
            continue
        got = row.numpy().transpose(1, 2, 0)
        diff = np.abs(got.astype(int) - _as_rgb(refs[path]).astype(int)).max()
        assert diff <= (2 if "ycbcr" in path else 0), f"{path}: cached off by up to {diff}"


def test_run_caches_every_mode_as_its_reference(tmp_path):
    """The run's route: the registered loader decodes the folder once into the cache."""
    refs = _folder(tmp_path)
    data = load_dataset("imagefolder", tmp_path, 32, QUIET)
    prepared = imf.prepare(tmp_path, QUIET, imf.ImageFolderOptions())
    paths = imf.sources(tmp_path, prepared)["train"].paths
    assert data.channels == 3
    rows = data.read("train", torch.arange(len(paths)))
    assert tuple(rows.shape[1:]) == (3, SIDE, SIDE)
    _check_cached(rows, list(paths), refs)


def test_select_caches_every_mode_as_its_reference(tmp_path):
    """select's route: its own cache under --out, from the same decoding."""
    from vaal_core.select.images import round_data
    from vaal_core.select.inputs import Images, Request, read_labels
    from vaal_core.spec import load_spec

    refs = _folder(tmp_path / "images")
    labels = tmp_path / "labels.csv"
    labels.write_text("train/plain/a.png,plain\ntest/plain/c.png,plain\ntest/modes/b.png,modes\n")
    images = Images(tmp_path / "images", tuple(sorted([*refs, "train/plain/a.png"])))
    spec = load_spec("experiments/imagefolder.yaml", ["dataset.image_size=32"])
    req = Request(
        spec, images, read_labels(labels, images.base), 1, "random", 0, tmp_path / "out", False
    )
    paths = sorted(set(images.paths) | set(req.labels.rows))
    data = round_data(req, paths)
    rows = data.read("train", torch.arange(len(paths)))
    _check_cached(rows, paths, refs)


def test_a_folder_of_grey_modes_is_one_channel(tmp_path):
    """16-bit, float, 1-bit, grey+alpha and a grey palette are all grey: one channel."""
    grey = ("I;16", "F", "1", "LA", "P (grey palette)")
    for i, mode in enumerate(grey):
        for split in ("train", "test"):
            folder = tmp_path / split / ("a" if i % 2 else "b")
            folder.mkdir(parents=True, exist_ok=True)
            MODES[mode](folder)
    data = load_dataset("imagefolder", tmp_path, 32, QUIET)
    assert data.channels == 1


def test_images_smaller_than_the_crop_are_named_in_one_warning(tmp_path, capsys):
    for split in ("train", "test"):
        for cls in ("a", "b"):
            (tmp_path / split / cls).mkdir(parents=True)
            Image.fromarray(_rgb()).save(tmp_path / split / cls / "big.png")
    Image.new("RGB", (1, 1), (9, 9, 9)).save(tmp_path / "train/a/dot.png")
    Image.new("L", (20, 50), 9).save(tmp_path / "test/b/thin.png")
    load_dataset("imagefolder", tmp_path, 32, QUIET)
    warned = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("warning:")]
    assert warned == [
        "warning: imagefolder: 2 images smaller than the 32-pixel crop (shorter side): "
        "train/a/dot.png, test/b/thin.png; each is enlarged (bicubic) to a shorter side of 37 "
        "pixels and cropped like the rest, so it looks blurred (a 1 x 1 image is one flat colour)"
    ]


def test_select_names_images_smaller_than_the_crop(tmp_path, capsys):
    from vaal_core.select.images import round_data
    from vaal_core.select.inputs import Images, Request, read_labels
    from vaal_core.spec import load_spec

    images = tmp_path / "images"
    images.mkdir()
    for name in ("a.png", "b.png"):
        Image.fromarray(_rgb()).save(images / name)
    Image.new("RGB", (1, 1), (9, 9, 9)).save(images / "dot.png")
    (tmp_path / "labels.csv").write_text("a.png,x\nb.png,y\n")
    listed = Images(images, ("a.png", "b.png", "dot.png"))
    spec = load_spec("experiments/imagefolder.yaml", ["dataset.image_size=32"])
    labels = read_labels(tmp_path / "labels.csv", images)
    round_data(
        Request(spec, listed, labels, 1, "random", 0, tmp_path / "out", False), list(listed.paths)
    )
    warned = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("warning:")]
    assert len(warned) == 1 and warned[0].startswith(
        "warning: imagefolder: 1 image smaller than the 32-pixel crop (shorter side): dot.png; "
    )
