"""Cityscapes (Cordts et al., CVPR 2016), fine annotations, through torchvision's `Cityscapes`.

Manual download only (registration required). The 34 label ids of `*_gtFine_labelIds.png` map to
the benchmark's 19 train ids; every other id (void, and the classes the benchmark does not
evaluate: parking, rail track, guard rail, bridge, tunnel, polegroup, caravan, trailer, license
plate) becomes 255 and is ignored by the loss and the metric. The table below is written from
the official label definition (cityscapesScripts, `helpers/labels.py`); a test checks it against
torchvision's copy. Training pool: the 2,975 `train` images; evaluation: the 500 `val` images
(the test split has no public labels).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .base import LoadOptions, missing, register_dataset
from .segmentation import SegLayout, seg_cached_dataset

# label id -> train id, for the 19 evaluated classes (all other ids -> 255)
LABEL_TO_TRAIN_ID: dict[int, int] = {
    7: 0,  # road
    8: 1,  # sidewalk
    11: 2,  # building
    12: 3,  # wall
    13: 4,  # fence
    17: 5,  # pole
    19: 6,  # traffic light
    20: 7,  # traffic sign
    21: 8,  # vegetation
    22: 9,  # terrain
    23: 10,  # sky
    24: 11,  # person
    25: 12,  # rider
    26: 13,  # car
    27: 14,  # truck
    28: 15,  # bus
    31: 16,  # train
    32: 17,  # motorcycle
    33: 18,  # bicycle
}
CLASSES = (
    "road",
    "sidewalk",
    "building",
    "wall",
    "fence",
    "pole",
    "traffic light",
    "traffic sign",
    "vegetation",
    "terrain",
    "sky",
    "person",
    "rider",
    "car",
    "truck",
    "bus",
    "train",
    "motorcycle",
    "bicycle",
)
NUM_CLASSES = 19
ASPECT = 2.0  # 2048 x 1024
DEFAULT_RESOLUTION = 512  # cached rows 512 x 1024: half the native resolution (see README)


def label_lut() -> np.ndarray:
    """256-entry uint8 table: label id -> train id, 255 elsewhere."""
    lut = np.full(256, 255, dtype=np.uint8)
    for label_id, train_id in LABEL_TO_TRAIN_ID.items():
        lut[label_id] = train_id
    return lut


def _folder(root: Path) -> Path:
    return root / "cityscapes"


LAYOUT = (
    "{f}/leftImg8bit/{{train,val}}/<city>/<city>_<seq>_<frame>_leftImg8bit.png and "
    "{f}/gtFine/{{train,val}}/<city>/<city>_<seq>_<frame>_gtFine_labelIds.png"
)
WHERE = (
    "register and download leftImg8bit_trainvaltest.zip and gtFine_trainvaltest.zip from "
    "https://www.cityscapes-dataset.com/downloads/, unzip both into {f}"
)


def check_cityscapes(root: Path, opts: LoadOptions | None = None) -> None:
    f = _folder(root)
    for sub in ("leftImg8bit/train", "leftImg8bit/val", "gtFine/train", "gtFine/val"):
        d = f / sub
        if not d.is_dir() or not any(d.iterdir()):
            raise missing("Cityscapes", d, LAYOUT.format(f=f), WHERE.format(f=f))


def _pairs(folder: Path, split: str) -> tuple[list[str], list[str]]:
    """(image paths, label-id paths) relative to `folder`, sorted, as torchvision enumerates."""
    from torchvision.datasets import Cityscapes

    ds = Cityscapes(str(folder), split=split, mode="fine", target_type="semantic")
    pairs = sorted(
        (str(Path(img).relative_to(folder)), str(Path(tgt[0]).relative_to(folder)))
        for img, tgt in zip(ds.images, ds.targets, strict=True)
    )
    missing_masks = [t for _, t in pairs if not (folder / t).is_file()]
    if missing_masks:
        raise missing(
            "Cityscapes label file",
            folder / missing_masks[0],
            LAYOUT.format(f=folder),
            WHERE.format(f=folder),
        )
    return [p for p, _ in pairs], [t for _, t in pairs]


@register_dataset("cityscapes", available=check_cityscapes, kind="segmentation")
def load_cityscapes(root: Path, opts: LoadOptions):
    check_cityscapes(root, opts)
    f = _folder(root)
    layout = SegLayout(ASPECT, DEFAULT_RESOLUTION, NUM_CLASSES, CLASSES, label_lut())
    return seg_cached_dataset(
        "cityscapes", f, lambda split: _pairs(f, split), layout, opts, root / "cache"
    )
