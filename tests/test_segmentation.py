"""Semantic segmentation through the stack: metric, data, model, augmentation, strategies, runs.

Data are tiny Cityscapes and BDD100K copies in their real on-disk layouts (tests/fixtures/
segmentation.py), loaded through the real loaders and the disk cache.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tests.fixtures.segmentation import CLI_TINY, TRAIN_ID, write_bdd100k, write_cityscapes
from vaal_core.datasets import DatasetError, LoadOptions, load_dataset
from vaal_core.models.drn import CHANNELS, BasicBlock, DRNSeg
from vaal_core.run.loop import ActiveLoop, preflight
from vaal_core.run.runlog import reproducible_part
from vaal_core.spec import SpecError, load_spec, spec_from_dict
from vaal_core.tasks import confusion_matrix, iou_from_confusion, mean_over_valid
from vaal_core.train.batches import Batches
from vaal_core.train.trainer import evaluate_detailed
from vaal_core.vaal.options import VAALOptions

REPO = Path(__file__).resolve().parent.parent

SEG_TINY = {
    "experiment": "seg-tiny",
    "dataset": {
        "name": "cityscapes",
        "image_size": 32,
        "cache_resolution": 32,
        "cache_workers": 1,
    },
    "task": {
        "kind": "segmentation",
        "model": "drn_d_22",
        "model_width": 0.0625,
        "iterations": 2,
        "batch_size": 4,
        "eval_batch_size": 8,
        "augment": True,
    },
    "active": {"initial": 2, "budget": 2, "cycles": 2},
    "vaal": {
        "width": 4,
        "image_size": 16,
        "latent_dim": 8,
        "epochs": 0.5,
        "batch_size": 4,
        "diag_holdout": 0,
    },
    "baselines": {"mc_samples": 3, "sa_ensemble_size": 2},
    "runtime": {"precision": "fp32", "num_threads": 1},
}


def seg_spec(dataset: str = "cityscapes", **task):
    d = {k: dict(v) if isinstance(v, dict) else v for k, v in SEG_TINY.items()}
    d["experiment"] = f"seg-{dataset}"
    d["dataset"]["name"] = dataset
    d["task"].update(task)
    return spec_from_dict(d)


@pytest.fixture(scope="module")
def seg_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("segdata")
    write_cityscapes(root)
    write_bdd100k(root)
    return root


# ----------------------------------------------------------------------------- metric
def test_miou_hand_computed_two_images_with_ignore_region():
    truth = [torch.tensor([[0, 0, 1], [1, 255, 2]]), torch.tensor([[2, 2, 2], [0, 255, 255]])]
    pred = [torch.tensor([[0, 1, 1], [1, 2, 2]]), torch.tensor([[2, 2, 0], [0, 0, 1]])]
    cm = sum(confusion_matrix(p, t, 4) for p, t in zip(pred, truth, strict=True))
    # rows truth, columns prediction; the three 255 pixels are not counted
    assert cm.tolist() == [[2, 1, 0, 0], [0, 2, 0, 0], [1, 0, 3, 0], [0, 0, 0, 0]]
    miou, per = iou_from_confusion(cm)
    # IoU = TP / (TP + FP + FN): 2/4, 2/3, 3/4; class 3 is in neither truth nor prediction
    assert per[:3] == pytest.approx([0.5, 2 / 3, 0.75])
    assert per[3] is None
    assert miou == pytest.approx((0.5 + 2 / 3 + 0.75) / 3)
    # averaging per-image mIoUs would give another number: the set's matrix is what counts
    per_image = [
        iou_from_confusion(confusion_matrix(p, t, 4))[0] for p, t in zip(pred, truth, strict=True)
    ]
    assert np.mean(per_image) != pytest.approx(miou)


def test_pixel_loss_ignores_255_and_survives_an_all_void_batch():
    from vaal_core.tasks import SEGMENTATION

    logits = torch.randn(2, 3, 2, 2, requires_grad=True)
    target = torch.tensor([[[0, 1], [255, 2]], [[255, 255], [1, 1]]])
    keep = target != 255
    by_hand = torch.nn.functional.cross_entropy(
        logits.permute(0, 2, 3, 1)[keep], target[keep]
    )  # the mean over the 5 labeled pixels only
    assert SEGMENTATION.loss(logits, target).item() == pytest.approx(by_hand.item())
    void = SEGMENTATION.loss(logits, torch.full((2, 2, 2), 255))
    void.backward()
    assert void.item() == 0.0 and torch.isfinite(logits.grad).all()


def test_evaluation_accumulates_one_matrix_whatever_the_batch_size(seg_root):
    data = load_dataset("cityscapes", seg_root, options=_opts())
    batches = Batches(data, torch.device("cpu"))
    torch.manual_seed(0)
    model = DRNSeg(3, 19, width=0.0625)
    spec = seg_spec()
    one = evaluate_detailed(model, batches, spec.task.__class__(eval_batch_size=1), spec.runtime)
    all_ = evaluate_detailed(model, batches, spec.task, spec.runtime)
    assert one.metric == all_.metric == "miou"
    assert one.value == pytest.approx(all_.value, abs=1e-6)
    assert len(all_.per_class_iou) == 19
    # sidewalk (1) is in no fixture mask; a class nobody predicts is excluded, not counted as 0
    assert all(v is None or 0 <= v <= 1 for v in all_.per_class_iou)


# ----------------------------------------------------------------------------- data
def _opts(res: int = 32, crop: int = 32) -> LoadOptions:
    return LoadOptions(image_size=crop, cache_resolution=res, cache_workers=1, progress=False)


def test_cityscapes_table_matches_the_label_definition():
    from torchvision.datasets import Cityscapes

    from vaal_core.datasets.cityscapes import CLASSES, LABEL_TO_TRAIN_ID, label_lut

    tv = {c.id: c.train_id for c in Cityscapes.classes if c.train_id not in (255, -1)}
    assert LABEL_TO_TRAIN_ID == tv
    assert sorted(LABEL_TO_TRAIN_ID.values()) == list(range(19)) and len(CLASSES) == 19
    lut = label_lut()
    assert lut[7] == 0 and lut[26] == 13 and lut[33] == 18
    assert lut[0] == lut[1] == lut[9] == lut[34] == lut[255] == 255  # void, ego, parking, beyond


def test_cityscapes_fixture_through_loader_and_cache_maps_ids(seg_root):
    data = load_dataset("cityscapes", seg_root, options=_opts(res=64, crop=64))  # native size
    files = sorted((seg_root / "cityscapes/gtFine/train").rglob("*_labelIds.png"))
    assert data.train.shape == (8, 3, 64, 128) and data.train_masks.shape == (8, 1, 64, 128)
    assert data.test.shape[0] == 4 and data.num_classes == 19
    lut = np.full(256, 255, np.uint8)
    for k, v in TRAIN_ID.items():
        lut[k] = v
    for i in (0, 5):
        ids = np.asarray(Image.open(files[i]))
        got = data.read_masks("train", torch.tensor([i]))[0].numpy()
        assert (got == lut[ids]).all()
        assert (got[-6:] == 255).all()  # the ego-vehicle strip is void
    assert data.labels("train").tolist() == [0] * 8  # no image-level class


def test_bdd100k_fixture_resized_masks_keep_labels(seg_root):
    data = load_dataset("bdd100k", seg_root, options=_opts(res=36, crop=32))
    assert data.train.shape == (8, 3, 36, 64) and data.train_masks.shape == (8, 1, 36, 64)
    files = sorted((seg_root / "bdd100k/labels/sem_seg/masks/train").glob("*.png"))
    for i in range(8):
        native = set(np.unique(np.asarray(Image.open(files[i]))).tolist())
        small = set(data.read_masks("train", torch.tensor([i])).unique().tolist())
        assert small <= native  # nearest neighbour never blends two labels into a third
    # the cache is decoded once: a second load reuses it
    manifest = next((seg_root / "cache/bdd100k").glob("train-masks-36px/manifest.json"))
    stamp = manifest.stat().st_mtime_ns
    load_dataset("bdd100k", seg_root, options=_opts(res=36, crop=32))
    assert manifest.stat().st_mtime_ns == stamp


@pytest.mark.parametrize(
    "name, expected",
    [
        ("cityscapes", ["leftImg8bit", "gtFine_labelIds.png", "cityscapes-dataset.com"]),
        ("bdd100k", ["images/10k", "labels/sem_seg/masks", "bdd-data.berkeley.edu"]),
    ],
)
def test_missing_dataset_names_path_layout_and_source(tmp_path, name, expected):
    with pytest.raises(DatasetError) as e:
        load_dataset(name, tmp_path, options=_opts())
    msg = str(e.value)
    assert str(tmp_path / name) in msg
    for part in expected:
        assert part in msg


def test_crop_larger_than_cache_is_refused(seg_root):
    with pytest.raises(DatasetError, match="image_size 48.*cache_resolution 32"):
        load_dataset("cityscapes", seg_root, options=_opts(res=32, crop=48))


# ----------------------------------------------------------------------------- augmentation
def test_image_and_mask_get_the_same_crop_and_flip():
    from vaal_core.train.augment import paired_crop_flip

    b, h, w = 16, 8, 12
    rows = torch.arange(h).view(1, h, 1).expand(b, h, w).to(torch.uint8)
    cols = torch.arange(w).view(1, 1, w).expand(b, h, w).to(torch.uint8)
    x = torch.stack([rows, cols, rows], 1).contiguous()
    out = []
    for mask in (rows, cols):
        g = torch.Generator().manual_seed(3)
        out.append(paired_crop_flip(x, mask.contiguous(), 6, g))
    (xa, ra), (xb, ca) = out
    assert torch.equal(xa, xb)  # the draw does not depend on the mask
    assert torch.equal(ra, xa[:, 0]) and torch.equal(ca, xa[:, 1])  # the mask moved with it
    assert xa.shape == (b, 3, 6, 6)
    flipped = xa[:, 1, 0, 0] > xa[:, 1, 0, -1]
    assert 0 < int(flipped.sum()) < b  # some flipped, some not
    assert len(set(xa[:, 0, 0, 0].tolist())) > 1  # crops at several offsets
    g = torch.Generator().manual_seed(3)
    imgs_only, none = paired_crop_flip(x, None, 6, g)
    assert none is None and torch.equal(imgs_only, xa)


# ----------------------------------------------------------------------------- model
def test_drn_d_22_stride_dilations_and_shape():
    model = DRNSeg(3, 19, width=0.125).eval()
    x = torch.randn(2, 3, 64, 96)
    with torch.no_grad():
        f = model.features(x)
        y = model(x)
    assert f.shape[-2:] == (8, 12)  # output stride 8
    assert y.shape == (2, 19, 64, 96)  # upsampled to the input size
    blocks = [
        sum(isinstance(m, BasicBlock) for m in getattr(model, f"level{i}").modules())
        for i in range(1, 9)
    ]
    assert blocks == [0, 0, 2, 2, 2, 2, 0, 0]  # stem and degridding levels have no residuals

    def dilations(level):
        return {
            c.dilation[0]
            for c in getattr(model, level).modules()
            if isinstance(c, torch.nn.Conv2d) and c.kernel_size == (3, 3)
        }

    assert [dilations(f"level{i}") for i in range(1, 9)] == [{1}, {1}, {1}, {1}, {2}, {4}, {2}, {1}]
    assert model.stem[0].kernel_size == (7, 7) and model.stem[0].stride == (1, 1)
    assert not any(isinstance(m, torch.nn.MaxPool2d) for m in model.modules())
    assert isinstance(model.dropout, torch.nn.Dropout2d) and model.classifier.kernel_size == (1, 1)
    assert model.feature_dim == round(CHANNELS[-1] * 0.125)


def test_drn_d_22_full_size_parameter_count_in_the_docs():
    n = sum(p.numel() for p in DRNSeg(3, 19).parameters())
    assert f"{n:,}" in (REPO / "docs" / "tasks.md").read_text()


# ----------------------------------------------------------------------------- specs
@pytest.mark.parametrize("name", ["cityscapes", "bdd100k"])
def test_shipped_specs_validate_with_the_paper_schedule(name):
    spec = load_spec(REPO / "experiments" / f"{name}.yaml")
    assert spec.task.kind == "segmentation" and spec.task.model == "drn_d_22"
    for strategy in spec.strategies:
        preflight(spec, strategy)
    size = {"cityscapes": 2975, "bdd100k": 7000}[name]
    a = spec.active
    assert a.initial / size == pytest.approx(0.10, abs=0.002)
    assert a.budget / size == pytest.approx(0.05, abs=0.002)
    assert (a.initial + a.budget * (a.cycles - 1)) / size == pytest.approx(0.40, abs=0.002)
    v = VAALOptions.of(spec).image_size
    assert v & (v - 1) == 0


def test_unsupported_pairings_are_spec_errors_before_compute(tmp_path, capsys):
    from vaal_core.__main__ import main

    with pytest.raises(SpecError, match="does not support segmentation.*qbc"):
        preflight(seg_spec(), "badge")
    with pytest.raises(SpecError, match="task.kind.*segmentation dataset"):
        preflight(seg_spec(kind="classification"), "random")
    with pytest.raises(SpecError, match="model_width.*small_cnn"):
        preflight(seg_spec(model="small_cnn"), "random")
    rc = main(
        [
            "run",
            str(REPO / "experiments/cityscapes.yaml"),
            "--strategy",
            "entropy",
            "--seed",
            "0",
            "--out",
            str(tmp_path),
            "--data-root",
            str(tmp_path),
        ]
    )
    assert (
        rc == 2
        and "error: strategy 'entropy' does not support segmentation" in capsys.readouterr().err
    )
    assert not any(tmp_path.iterdir())  # nothing written
    for protocol in ({"label_noise": 0.1}, {"initial_classes": [1]}):
        key = next(iter(protocol))
        with pytest.raises(SpecError, match=f"protocol.{key}.*task.kind segmentation has no class"):
            preflight(spec_from_dict({**SEG_TINY, "protocol": protocol}), "random")


def test_classification_specs_keep_their_hash_and_bytes():
    spec = spec_from_dict(
        {
            "experiment": "tiny",
            "dataset": {"name": "mnist", "pool_size": 600},
            "task": {"model": "small_cnn", "iterations": 8},
            "active": {"initial": 40, "budget": 40, "cycles": 3},
            "baselines": {"mc_samples": 5},
        }
    )
    d = spec.to_dict()
    assert "kind" not in d["task"] and "model_width" not in d["task"]
    assert not any(k.startswith("sa_") for k in d["baselines"])
    # the hash this spec had before segmentation existed (computed on main at 070797c)
    assert spec.hash() == "61eb451e5c16"
    # a segmentation spec records its kind
    assert seg_spec().to_dict()["task"]["kind"] == "segmentation"


# ----------------------------------------------------------------------------- aggregation
def test_mc_dropout_score_is_pixel_entropy_of_the_mean_over_valid_pixels():
    from vaal_core.tasks.segmentation import pixel_entropy

    # one image, 2 classes, 1 x 3 pixels: certain, 50/50, certain; the middle pixel is void
    mean = torch.tensor([[[[1.0, 0.5, 0.0]], [[0.0, 0.5, 1.0]]]])
    ent = pixel_entropy(mean)
    assert ent[0, 0].tolist() == pytest.approx([0.0, math.log(2), 0.0])
    valid = torch.tensor([[True, False, True]])
    assert mean_over_valid(ent, valid).tolist() == pytest.approx([0.0])
    assert mean_over_valid(ent).tolist() == pytest.approx([math.log(2) / 3])
    assert mean_over_valid(ent, torch.zeros(1, 3, dtype=torch.bool)).tolist() == [0.0]


def test_qbc_score_is_vote_entropy_not_confidence():
    from vaal_core.tasks.segmentation import vote_entropy

    # 4 members, 3 classes, 2 pixels: unanimous (4, 0, 0) and split (2, 2, 0)
    votes = torch.tensor([[[[4, 2]], [[0, 2]], [[0, 0]]]])
    ve = vote_entropy(votes, 4)
    assert ve[0, 0].tolist() == pytest.approx([0.0, math.log(2)])
    assert mean_over_valid(ve).tolist() == pytest.approx([math.log(2) / 2])


def test_coreset_descriptor_is_the_pooled_feature_map():
    from vaal_core.tasks.segmentation import pooled

    # 2 images, 2 channels, 2 x 2 maps
    f = torch.tensor(
        [
            [[[1.0, 3.0], [5.0, 7.0]], [[0.0, 0.0], [0.0, 4.0]]],
            [[[2.0, 2.0], [2.0, 2.0]], [[-1.0, 1.0], [-1.0, 1.0]]],
        ]
    )
    assert pooled(f).tolist() == [[4.0, 1.0], [2.0, 0.0]]


def test_suggestive_annotation_variance_and_representativeness():
    from baselines.suggestive import greedy_representative
    from vaal_core.tasks.segmentation import ensemble_variance

    # 2 members, 2 classes, 1 x 2 pixels: members agree on pixel 0, disagree on pixel 1
    p = torch.tensor([[[[0.9, 1.0]], [[0.1, 0.0]]], [[[0.9, 0.0]], [[0.1, 1.0]]]])[:, None]
    var = ensemble_variance(p)  # [B=1, 1, 2]
    assert var[0, 0].tolist() == pytest.approx([0.0, 0.25])  # var of {1, 0} = 0.25 per class
    # pool: two clusters (3 images near e1, 1 near e2); candidates: one of each + a duplicate
    pool = torch.tensor([[1.0, 0.0], [0.9, 0.1], [1.0, 0.05], [0.0, 1.0]])
    cands = torch.tensor([[1.0, 0.0], [0.98, 0.02], [0.0, 1.0]])
    # first the most central candidate (1 sits amid the big cluster and leans toward the small
    # one: sum of cosines 3.016 against 2.993 for candidate 0), then the other cluster (gain
    # 3.995), never candidate 0, a near-duplicate of the first pick (gain 3.016)
    assert greedy_representative(cands, pool, 2).tolist() == [1, 2]
    assert greedy_representative(cands, pool, 3).tolist() == [1, 2, 0]


def test_query_time_void_pixels_come_from_the_labeled_masks(seg_root):
    from vaal_core.tasks.segmentation import void_mask

    data = load_dataset("cityscapes", seg_root, options=_opts(res=64, crop=64))
    batches = Batches(data, torch.device("cpu"))
    valid = void_mask(batches, np.arange(4), batch_size=3)
    assert valid.shape == (64, 128)
    assert not valid[-6:].any()  # the ego-vehicle strip: void in every labeled mask
    assert valid[:20].all()  # sky and buildings count
    assert void_mask(batches, np.arange(0), batch_size=3) is None


def test_drn_learns_the_fixture_scenes(seg_root):
    """Directions: with masks aligned to their crops, training raises the mIoU well above an
    untrained model's (a misaligned mask would leave it near chance)."""
    from vaal_core.train.trainer import train_task_model

    data = load_dataset("cityscapes", seg_root, options=_opts())
    batches = Batches(data, torch.device("cpu"))
    spec = seg_spec(iterations=60, lr=0.05)
    torch.manual_seed(0)
    model = DRNSeg(3, 19, width=0.125)
    before = evaluate_detailed(model, batches, spec.task, spec.runtime).value
    model, _ = train_task_model(
        model,
        batches,
        np.arange(8),
        spec.task,
        spec.runtime,
        torch.Generator().manual_seed(0),
        progress=False,
    )
    after = evaluate_detailed(model, batches, spec.task, spec.runtime)
    assert after.value > max(0.3, 2 * before)
    assert after.per_class_iou[10] > 0.5  # sky, the largest class


# ----------------------------------------------------------------------------- runs
@pytest.mark.parametrize("dataset", ["cityscapes", "bdd100k"])
@pytest.mark.parametrize("strategy", ["random", "vaal", "qbc", "suggestive_annotation"])
def test_two_cycle_run_on_fixture(seg_root, tmp_path, dataset, strategy):
    spec = seg_spec(dataset)
    recs = ActiveLoop(spec, strategy, 0, tmp_path, seg_root, progress=False).run()
    assert [r["cycle"] for r in recs] == [0, 1]
    assert [r["n_labeled"] for r in recs] == [2, 4]
    for r in recs:
        assert r["metric"] == "miou" and 0 <= r["value"] <= 1
        assert len(r["per_class_iou"]) == 19
        present = [v for v in r["per_class_iou"] if v is not None]
        assert r["value"] == pytest.approx(np.mean(present) if present else 0.0, abs=1e-5)
    assert recs[0]["n_selected"] == 2 and recs[0]["selected_classes"] is None
    line = (tmp_path / spec.experiment / strategy / "seed-0" / "cycles.jsonl").read_text()
    assert '"metric": "miou"' in line and '"per_class_iou"' in line


def test_bf16_autocast_run_on_fixture(seg_root, tmp_path):
    d = {k: dict(v) if isinstance(v, dict) else v for k, v in SEG_TINY.items()}
    d["runtime"]["precision"] = "bf16"
    recs = ActiveLoop(spec_from_dict(d), "random", 0, tmp_path, seg_root, progress=False).run()
    assert all(r["precision"] == "bf16" and math.isfinite(r["value"]) for r in recs)


def test_same_seed_same_selection_for_mc_dropout(seg_root, tmp_path):
    spec = seg_spec("cityscapes")
    a = ActiveLoop(spec, "mc_dropout", 1, tmp_path / "a", seg_root, progress=False).run()
    b = ActiveLoop(spec, "mc_dropout", 1, tmp_path / "b", seg_root, progress=False).run()
    assert [reproducible_part(r) for r in a] == [reproducible_part(r) for r in b]
    assert a[0]["query_stats"]["mc_samples"] == 3


def test_coreset_on_segmentation_uses_pooled_features(seg_root, tmp_path):
    spec = seg_spec("bdd100k")
    recs = ActiveLoop(spec, "coreset", 0, tmp_path, seg_root, progress=False).run()
    assert recs[0]["query_stats"]["embedding_dim"] == round(CHANNELS[-1] * 0.0625)


@pytest.mark.parametrize("name", ["cityscapes", "bdd100k"])
def test_shipped_spec_runs_through_the_cli_on_the_fixture(seg_root, tmp_path, name, capsys):
    """What `make reproduce-<name>` runs, shrunk by --set overrides only."""
    from vaal_core.__main__ import main

    tiny = CLI_TINY
    args = [
        "run",
        str(REPO / "experiments" / f"{name}.yaml"),
        "--strategy",
        "vaal",
        "--seed",
        "0",
        "--out",
        str(tmp_path),
        "--data-root",
        str(seg_root),
        "--no-progress",
    ]
    assert main(args + [a for kv in tiny for a in ("--set", kv)]) == 0
    lines = (tmp_path / name / "vaal" / "seed-0" / "cycles.jsonl").read_text().splitlines()
    assert len(lines) == 2 and all('"metric": "miou"' in line for line in lines)
    assert "miou=" in capsys.readouterr().out
