"""BDD100K semantic segmentation (Yu et al., CVPR 2020: "BDD100K: A Diverse Driving Dataset for
Heterogeneous Multitask Learning"), the 10k-image release.

Manual download only (registration required). Masks are already in the 19 Cityscapes train ids
(0..18) with 255 for ignore, so no mapping is applied; any other value is treated as ignore by
the metric. Training pool: the 7,000 `train` images; evaluation: the 1,000 `val` images. An image
and its mask share a file stem (`<stem>.jpg`, `<stem>.png`).
"""

from __future__ import annotations

from pathlib import Path

from .base import LoadOptions, missing, register_dataset
from .cityscapes import CLASSES, NUM_CLASSES
from .segmentation import SegLayout, seg_cached_dataset

ASPECT = 16 / 9  # 1280 x 720
DEFAULT_RESOLUTION = 360  # cached rows 360 x 640: half the native resolution (see README)
LAYOUT = (
    "{f}/images/10k/{{train,val}}/<name>.jpg and "
    "{f}/labels/sem_seg/masks/{{train,val}}/<name>.png (train ids 0..18, 255 ignore)"
)
WHERE = (
    "register at https://bdd-data.berkeley.edu/ (download page: 10K Images and Segmentation "
    "labels), unzip both into {f}"
)


def _folder(root: Path) -> Path:
    return root / "bdd100k"


def check_bdd100k(root: Path, opts: LoadOptions | None = None) -> None:
    f = _folder(root)
    for sub in (
        "images/10k/train",
        "images/10k/val",
        "labels/sem_seg/masks/train",
        "labels/sem_seg/masks/val",
    ):
        d = f / sub
        if not d.is_dir() or not any(d.iterdir()):
            raise missing(
                "BDD100K (10k semantic segmentation)", d, LAYOUT.format(f=f), WHERE.format(f=f)
            )


def _pairs(f: Path, split: str) -> tuple[list[str], list[str]]:
    masks = sorted((f / "labels/sem_seg/masks" / split).glob("*.png"))
    images = [f / "images/10k" / split / f"{m.stem}.jpg" for m in masks]
    lost = [str(i) for i in images if not i.is_file()]
    if lost:
        raise missing(
            "BDD100K image for a mask", Path(lost[0]), LAYOUT.format(f=f), WHERE.format(f=f)
        )
    return [str(i.relative_to(f)) for i in images], [str(m.relative_to(f)) for m in masks]


@register_dataset("bdd100k", available=check_bdd100k, kind="segmentation")
def load_bdd100k(root: Path, opts: LoadOptions):
    check_bdd100k(root, opts)
    f = _folder(root)
    layout = SegLayout(ASPECT, DEFAULT_RESOLUTION, NUM_CLASSES, CLASSES)
    return seg_cached_dataset(
        "bdd100k", f, lambda split: _pairs(f, split), layout, opts, root / "cache"
    )
