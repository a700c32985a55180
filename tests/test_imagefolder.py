"""`dataset.name: imagefolder`: a user's own photographs in class folders or a labels table,
checked before any compute, decoded once into the disk cache, and run end to end by the CLI."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

from tests.fixtures.imagefolder import CLASSES, Photo, write_folders, write_rows, write_table
from vaal_core.__main__ import main
from vaal_core.datasets import DatasetError, LoadOptions, load_dataset
from vaal_core.datasets import imagefolder as imf
from vaal_core.run.loop import ActiveLoop
from vaal_core.spec import load_spec

REPO = Path(__file__).resolve().parent.parent
SPEC = "experiments/imagefolder.yaml"
QUIET = LoadOptions(progress=False, cache_workers=1)
# two tiny cycles of small_cnn at 32 px on the template spec (8 labeled, +6)
TINY = [
    "experiment=tiny_imagefolder",
    "dataset.image_size=32",
    "task.model=small_cnn",
    "task.iterations=4",
    "task.batch_size=8",
    "task.eval_batch_size=64",
    "active.initial=8",
    "active.budget=6",
    "active.cycles=2",
    "vaal.image_size=32",
    "vaal.width=8",
    "vaal.epochs=0.2",
    "vaal.batch_size=8",
    "runtime.num_threads=1",
]
SETS = [a for o in TINY for a in ("--set", o)]


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "vaal_core", *args, "--no-progress"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=600,
    )


def _records(out: Path) -> list[dict]:
    return [
        json.loads(line)
        for p in sorted(out.rglob("cycles.jsonl"))
        for line in p.read_text().splitlines()
    ]


# ----------------------------------------------------------------------------- loading
def test_folders_load_through_the_cache_with_sorted_classes(tmp_path):
    written = write_folders(tmp_path, train=4, test=2, val=1)
    data = load_dataset("imagefolder", tmp_path, 32, QUIET)
    assert data.num_classes == 3 and data.channels == 3 and data.storage == "cache"
    assert imf.class_names(tmp_path) == tuple(sorted(CLASSES)) == ("disk", "sky", "stripes")
    index = {c: i for i, c in enumerate(sorted(CLASSES))}
    # train then val images of each class join the pool; test is its own split
    pool = [p for p in written if p.split in ("train", "val")]
    assert sorted(data.train_y.tolist()) == sorted(index[p.label] for p in pool)
    assert sorted(data.test_y.tolist()) == sorted(
        index[p.label] for p in written if p.split == "test"
    )
    x = data.read("train", torch.arange(len(data.train_y)))
    assert x.dtype == torch.uint8 and tuple(x.shape[1:]) == (3, 37, 37)  # 32 x 256/224 stored

    # the grey image among colour ones: three equal planes, its own pixels
    grey = next(p for p in written if Image.open(tmp_path / p.path).mode == "L")
    row = _row_of(tmp_path, grey.path, data)
    assert torch.equal(row[0], row[1]) and torch.equal(row[1], row[2])
    assert row.float().std() > 5  # a gradient, not a blank

    manifest = data.train.folder / "manifest.json"
    stamp = manifest.stat().st_mtime_ns
    again = load_dataset("imagefolder", tmp_path, 32, QUIET)
    assert manifest.stat().st_mtime_ns == stamp, "a complete cache is reused, not rebuilt"
    assert torch.equal(again.read("test", torch.arange(3)), data.read("test", torch.arange(3)))


def _row_of(root: Path, rel: str, data) -> torch.Tensor:
    """The cached row of the image at `rel` (the train source lists class folders in order)."""
    prepared = imf.prepare(root, QUIET, imf.ImageFolderOptions())
    paths = imf.sources(root, prepared)["train"].paths
    return data.read("train", torch.tensor([list(paths).index(rel)]))[0]


def test_a_photograph_is_cached_upright_as_its_exif_orientation_says(tmp_path):
    write_folders(tmp_path, train=2, test=1)
    pixels = np.zeros((60, 40, 3), np.uint8)
    pixels[:30] = 255  # stored: bright above, dark below
    exif = Image.Exif()
    exif[0x0112] = 6  # shown rotated 90 degrees clockwise: bright on the right
    rel = "train/sky/sky_train_01.png"
    (tmp_path / rel).unlink()
    Image.fromarray(pixels).save(tmp_path / "train/sky/upright.jpg", exif=exif, quality=95)
    data = load_dataset("imagefolder", tmp_path, 32, QUIET)
    row = _row_of(tmp_path, "train/sky/upright.jpg", data).float().mean(0)
    assert row[:, 25:].mean() > 200 and row[:, :12].mean() < 50


def test_a_table_gives_the_same_classes_and_pixels_as_the_folders(tmp_path):
    folders, table = tmp_path / "folders", tmp_path / "table"
    write_folders(folders, train=4, test=2)
    rows = write_table(table, train=4, test=2)
    a = load_dataset("imagefolder", folders, 32, QUIET)
    b = load_dataset("imagefolder", table, 32, QUIET)
    assert imf.class_names(table) == imf.class_names(folders)
    # the table lists images in its own order: compare each image's pixels by its label
    for split in ("train", "test"):
        xa, xb = (d.read(split, torch.arange(len(d.labels(split)))) for d in (a, b))
        ya, yb = a.labels(split), b.labels(split)
        for c in range(3):
            assert torch.equal(xa[ya == c].sum(0), xb[yb == c].sum(0))
    assert len(rows) == len(b.train_y) + len(b.test_y)


def test_a_table_without_split_column_holds_out_a_fixed_fifth_of_every_class(tmp_path):
    write_table(tmp_path, split_column=False, name="labels.tsv", train=7, test=0)
    split = [it.split for it in imf.list_images(tmp_path).items]
    assert split.count("test") == 3 * 2  # ceil(20% of 7) per class
    assert split == [it.split for it in imf.list_images(tmp_path).items], "the same every time"
    data = load_dataset("imagefolder", tmp_path, 32, QUIET)
    assert np.bincount(data.test_y.numpy()).tolist() == [2, 2, 2]


def test_a_folder_of_grey_images_is_one_channel(tmp_path):
    write_folders(tmp_path, train=3, test=1, all_grey=True)
    data = load_dataset("imagefolder", tmp_path, 32, QUIET)
    assert data.channels == 1 and len(data.mean) == 1
    assert tuple(data.read("train", torch.arange(2)).shape) == (2, 1, 37, 37)


def test_every_image_is_decoded_once_per_data(tmp_path, monkeypatch):
    write_folders(tmp_path, train=3, test=1)
    imf.check_imagefolder(tmp_path, QUIET)
    decoded = []
    monkeypatch.setattr(imf, "_probe_one", lambda p: decoded.append(p) or (None, False, 64))
    load_dataset("imagefolder", tmp_path, 32, QUIET)
    assert decoded == [], "the preflight's decode check is read back"
    Image.new("RGB", (40, 40), (200, 10, 10)).save(tmp_path / "train/disk/new.png")
    imf.check_imagefolder(tmp_path, QUIET)
    assert len(decoded) == 3 * 4 + 1, "new files: the check runs again"


def test_a_relabelled_table_rebuilds_nothing_silently(tmp_path):
    rows = write_table(tmp_path, train=3, test=1)
    load_dataset("imagefolder", tmp_path, 32, QUIET)
    swap = {"disk": "sky", "sky": "disk", "stripes": "stripes"}
    write_rows(tmp_path / "labels.csv", [Photo(r.path, swap[r.label], r.split) for r in rows])
    with pytest.raises(DatasetError, match="built from other data"):
        load_dataset("imagefolder", tmp_path, 32, QUIET)


# ----------------------------------------------------------------------------- the CLI
def test_two_cycles_of_vaal_through_the_cli_on_a_table(tmp_path):
    write_table(tmp_path / "photos", train=8, test=3)
    r = _cli(
        "run",
        SPEC,
        *SETS,
        "--strategy",
        "vaal",
        "--seed",
        "0",
        "--data-root",
        str(tmp_path / "photos"),
        "--out",
        str(tmp_path / "res"),
    )
    assert r.returncode == 0, r.stderr
    recs = _records(tmp_path / "res")
    assert [rec["n_labeled"] for rec in recs] == [8, 14]
    assert [rec["dataset"] for rec in recs] == ["imagefolder"] * 2
    assert all(0 <= rec["value"] <= 1 for rec in recs) and recs[0]["n_selected"] == 6


def test_the_labels_match_the_cached_pixels_a_model_learns_them(tmp_path):
    """Labels in another order than the cache's rows would leave a model at chance (1/3)."""
    write_folders(tmp_path / "photos", train=8, test=4)
    learn = [*TINY, "task.iterations=60", "active.initial=12", "runtime.num_threads=2"]
    spec = load_spec(REPO / SPEC, learn)
    records = ActiveLoop(
        spec, "random", 0, tmp_path / "res", data_root=tmp_path / "photos", progress=False
    ).run()
    assert records[-1]["value"] >= 0.75, records  # 0.83 to 1.0 over 9 data x run seeds


def test_reproduce_imagefolder_writes_the_report_and_figures(tmp_path):
    """What `make reproduce-imagefolder DATA_ROOT=...` runs, with tiny overrides."""
    write_folders(tmp_path / "photos", train=8, test=3, val=1)
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "vaal_core",
            "demo",
            SPEC,
            *SETS,
            "--strategies",
            "random,vaal",
            "--seeds",
            "0-0",
            "--out",
            str(tmp_path / "res"),
            "--figures",
            str(tmp_path / "fig"),
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=600,
        env={**os.environ, "DATA_ROOT": str(tmp_path / "photos")},
    )
    assert r.returncode == 0, r.stderr
    recs = _records(tmp_path / "res")
    assert sorted((rec["strategy"], rec["n_labeled"]) for rec in recs) == [
        ("random", 8),
        ("random", 14),
        ("vaal", 8),
        ("vaal", 14),
    ]
    report = (tmp_path / "fig" / "report.md").read_text()
    assert "### Verdicts" in report and "vaal vs random" in report
    assert (tmp_path / "fig" / "curves_imagefolder.png").stat().st_size > 0
    assert (tmp_path / "fig" / "vaal_diagnostics.png").is_file()


# ----------------------------------------------------------------------------- bad data
def _corrupt(path: Path) -> None:
    path.write_bytes(b"\xff\xd8\xff\xe0 not a photograph")


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _empty_class(root: Path) -> str:
    (root / "train" / "cats").mkdir()
    return "1 class folder under .* holds no images: train/cats/"


def _class_only_in_test(root: Path) -> str:
    (root / "test" / "zebra").mkdir()
    Image.new("RGB", (40, 40)).save(root / "test" / "zebra" / "z.png")
    return "1 class in test but not in train: zebra"


def _unreadable(root: Path) -> str:
    _corrupt(root / "train" / "disk" / "disk_train_00.jpg")
    _truncate(root / "test" / "sky" / "sky_test_01.png")
    return (
        "2 images under .* failed to decode: test/sky/sky_test_01.png .*, "
        "train/disk/disk_train_00.jpg .*; replace or remove them, or set dataset.skip_unreadable: true \\(the full list: .*probe-"
    )


def _missing_file(root: Path) -> str:
    table = root / "labels.csv"
    table.write_text(table.read_text() + "images/gone.jpg,disk,train\n")
    return "labels.csv names 1 file that does not exist under .*: images/gone.jpg"


def _duplicate(root: Path) -> str:
    table = root / "labels.csv"
    lines = table.read_text().splitlines()
    table.write_text("\n".join([*lines, lines[1].replace("images/", "images/./")]) + "\n")
    return "labels.csv lists 1 path more than once: images/disk_train_00.jpg"


def _table_class_only_in_test(root: Path) -> str:
    Image.new("RGB", (40, 40)).save(root / "images" / "z.png")
    table = root / "labels.csv"
    table.write_text(table.read_text() + "images/z.png,zebra,test\n")
    return "1 class in test but not in train: zebra"


BAD = {
    "empty_class_folder": ("folders", _empty_class),
    "class_only_in_test": ("folders", _class_only_in_test),
    "unreadable_images": ("folders", _unreadable),
    "row_naming_a_missing_file": ("table", _missing_file),
    "path_listed_twice": ("table", _duplicate),
    "table_class_only_in_test": ("table", _table_class_only_in_test),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_data_is_one_error_line_before_any_run_directory(tmp_path, case, capsys):
    layout, spoil = BAD[case]
    root = tmp_path / "photos"
    (write_folders if layout == "folders" else write_table)(root, train=4, test=2)
    expected = spoil(root)
    out = tmp_path / "res"
    argv = ["run", SPEC, *SETS, "--strategy", "random", "--seed", "0"]
    rc = main([*argv, "--data-root", str(root), "--out", str(out), "--no-progress"])
    # the tiny overrides' task.iterations outranks the template's epochs: a warning says so
    err = [ln for ln in capsys.readouterr().err.strip().splitlines() if ln.startswith("error")]
    assert rc == 2 and len(err) == 1 and err[0].startswith("error: "), err
    assert re.search(expected, err[0]), err[0]
    assert not out.exists(), "nothing is written to the results folder"


def test_the_real_cli_refuses_an_unreadable_image_with_exit_2(tmp_path):
    root = tmp_path / "photos"
    write_folders(root, train=4, test=2)
    _corrupt(root / "train" / "stripes" / "stripes_train_02.jpg")
    r = _cli(
        "run",
        SPEC,
        *SETS,
        "--strategy",
        "random",
        "--seed",
        "0",
        "--data-root",
        str(root),
        "--out",
        str(tmp_path / "res"),
    )
    assert r.returncode == 2 and r.stderr.count("error:") == 1, r.stderr
    assert "train/stripes/stripes_train_02.jpg" in r.stderr and "1 image under" in r.stderr
    assert not (tmp_path / "res").exists()


def test_a_missing_folder_says_which_layouts_are_read(tmp_path, capsys):
    argv = ["run", SPEC, "--strategy", "random", "--seed", "0", "--out", str(tmp_path / "res")]
    rc = main([*argv, "--data-root", str(tmp_path / "none")])
    err = capsys.readouterr().err
    assert rc == 2 and "train/<class>/" in err and "labels.csv" in err
    assert not (tmp_path / "res").exists()


def test_fewer_images_than_the_budgets_is_one_error_line(tmp_path):
    root = tmp_path / "photos"
    write_folders(root, train=4, test=2)  # a pool of 12
    r = _cli(
        "run",
        SPEC,
        *SETS,
        "--set",
        "active.initial=10",
        "--strategy",
        "random",
        "--seed",
        "0",
        "--data-root",
        str(root),
        "--out",
        str(tmp_path / "res"),
    )
    errors = [ln for ln in r.stderr.strip().splitlines() if not ln.startswith("warning: ")]
    assert r.returncode == 2 and errors == [
        "error: spec asks for 16 labeled images (active.initial + active.budget * (cycles-1)) "
        "but the pool of dataset 'imagefolder' holds only 12"
    ]


def test_fewer_images_than_the_budgets_writes_no_run_directory(tmp_path, capsys):
    root = tmp_path / "photos"
    write_folders(root, train=4, test=2)
    argv = ["run", SPEC, *SETS, "--set", "active.initial=10", "--strategy", "random", "--seed", "0"]
    assert main([*argv, "--data-root", str(root), "--out", str(tmp_path / "res")]) == 2
    assert not (tmp_path / "res").exists()


# ----------------------------------------------------------------------------- skip_unreadable
def test_skip_unreadable_leaves_them_out_and_records_which(tmp_path, capsys):
    write_folders(tmp_path, train=4, test=2)
    _corrupt(tmp_path / "train" / "disk" / "disk_train_00.jpg")
    _truncate(tmp_path / "test" / "sky" / "sky_test_01.png")
    with pytest.raises(DatasetError, match="2 images under"):
        load_dataset("imagefolder", tmp_path, 32, QUIET)
    opts = LoadOptions(image_size=32, progress=False, cache_workers=1)
    data = imf.load_imagefolder(tmp_path, opts, imf.ImageFolderOptions(skip_unreadable=True))
    assert (len(data.train_y), len(data.test_y)) == (11, 5)
    printed = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("warning: ")]
    assert len(printed) == 1 and "left out 2 unreadable images" in printed[0]
    assert "train/disk/disk_train_00.jpg" in printed[0]
    train = json.loads((data.train.folder / "skipped.json").read_text())["unreadable"]
    test = json.loads((data.test.folder / "skipped.json").read_text())["unreadable"]
    assert list(train) == ["train/disk/disk_train_00.jpg"]
    assert (
        list(test) == ["test/sky/sky_test_01.png"]
        and "truncated" in test["test/sky/sky_test_01.png"]
    )


def test_skipping_every_image_of_a_class_still_refuses_a_class_only_in_test(tmp_path):
    write_folders(tmp_path, train=1, test=1)
    _corrupt(tmp_path / "train" / "sky" / "sky_train_00.jpg")
    with pytest.raises(DatasetError, match="1 class in test but not in train: sky"):
        imf.prepare(tmp_path, QUIET, imf.ImageFolderOptions(skip_unreadable=True))


@dataclass(frozen=True)
class OwnedOptions(LoadOptions):
    """`LoadOptions` carrying the dataset-owned spec keys, as the spec will pass them."""

    owned: tuple = ()


def test_skip_unreadable_through_the_registered_loader_once_the_spec_carries_it(tmp_path):
    write_folders(tmp_path, train=3, test=1)
    _corrupt(tmp_path / "train" / "disk" / "disk_train_00.jpg")
    with pytest.raises(DatasetError, match="replace or remove them, or set dataset.skip_unread"):
        load_dataset("imagefolder", tmp_path, 32, OwnedOptions(progress=False))
    skip = OwnedOptions(progress=False, owned=(("skip_unreadable", True),))
    data = load_dataset("imagefolder", tmp_path, 32, skip)
    assert len(data.train_y) == 3 * 3 - 1


def test_dataset_owned_keys_come_from_the_spec_and_others_are_refused_at_preflight(tmp_path):
    root = tmp_path / "photos"
    write_folders(root, train=4, test=2)
    base = ["run", SPEC, *SETS, "--strategy", "random", "--seed", "0", "--data-root", str(root)]
    out = tmp_path / "res"
    assert main([*base, "--set", "dataset.skip_unreadabel=true", "--out", str(out)]) == 2
    assert not out.exists()
    spec = load_spec(SPEC, [*SETS[1::2], "dataset.skip_unreadable=true"])
    assert dict(spec.dataset.owned) == {"skip_unreadable": True}
    assert spec.to_dict()["dataset"]["skip_unreadable"] is True
    assert "skip_unreadable" not in load_spec(SPEC, list(SETS[1::2])).to_dict()["dataset"]


def test_dataset_owned_spec_keys_reach_the_options():
    owned = SimpleNamespace(owned=(("skip_unreadable", True),))
    assert imf.folder_options(owned) == imf.ImageFolderOptions(skip_unreadable=True)
    assert imf.folder_options(QUIET) == imf.ImageFolderOptions()
    with pytest.raises(DatasetError, match="unknown spec key 'dataset.skip_unreadabel'"):
        imf.folder_options(SimpleNamespace(owned=(("skip_unreadabel", True),)))
    with pytest.raises(DatasetError, match="must be true or false"):
        imf.folder_options(SimpleNamespace(owned=(("skip_unreadable", "yes"),)))
