"""Real loaders on tiny copies of each dataset's on-disk format, the disk cache, and fixture runs.

md5 bypass: torchvision checks the md5 of CIFAR's pickles and of ImageNet's devkit tarball
against the real release files; our tiny fixtures cannot match them, so `no_md5` replaces only
torchvision's `check_integrity` by a file-exists check. Everything else is torchvision's code.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.conftest import DATA_ROOT
from tests.fixtures.datasets import write_caltech256, write_cifar, write_imagenet
from tests.helpers import fixture_spec_dict
from vaal_core.datasets import DatasetError, LoadOptions, load_dataset
from vaal_core.datasets import cache as cache_mod
from vaal_core.datasets.cache import ArraySource, CacheKey, CacheReader, build_cache, square
from vaal_core.run.loop import ActiveLoop
from vaal_core.spec import spec_from_dict
from vaal_core.train.batches import Batches

QUIET = LoadOptions(progress=False, cache_workers=2)


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("VAAL_NO_DOWNLOAD", "1")  # never touch the network from a test


# ----------------------------------------------------------------------------- MNIST's decoded copy
def test_mnist_decodes_once_through_torchvision_then_reads_its_copy(tmp_path):
    from torchvision.datasets import MNIST

    raw = tmp_path / "MNIST" / "raw"
    shutil.copytree(DATA_ROOT / "MNIST" / "raw", raw)
    decoded = tmp_path / "MNIST" / "decoded-v1.pt"
    first = load_dataset("mnist", tmp_path)
    assert decoded.is_file(), "the first load saves torchvision's tensors"
    truth = MNIST(str(tmp_path), train=False)
    assert torch.equal(first.test_x[:, 0], truth.data) and torch.equal(first.test_y, truth.targets)

    # a later process reads the copy and never imports torchvision (seconds per run)
    probe = (
        "import sys; from pathlib import Path; from vaal_core.datasets import load_dataset; "
        f"d = load_dataset('mnist', Path({str(tmp_path)!r})); "
        "print(int(d.train_y.sum()), 'torchvision' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.split() == [str(int(first.train_y.sum())), "False"]

    # a replaced raw file makes the copy stale: decoded again, from the new file
    labels = raw / "t10k-labels-idx1-ubyte"
    data = bytearray(labels.read_bytes())
    data[8] = (data[8] + 1) % 10  # the first test label
    labels.write_bytes(bytes(data))
    again = load_dataset("mnist", tmp_path)
    assert int(again.test_y[0]) == (int(first.test_y[0]) + 1) % 10


# ----------------------------------------------------------------------------- missing data
@pytest.mark.parametrize(
    "name, path, hint",
    [
        ("cifar10", "cifar-10-batches-py", "cifar-10-python.tar.gz"),
        ("cifar100", "cifar-100-python", "cifar-100-python.tar.gz"),
        ("caltech256", "caltech256/256_ObjectCategories", "data.caltech.edu"),
        ("imagenet", "imagenet", "image-net.org"),
    ],
)
def test_missing_dataset_names_path_layout_and_source(tmp_path, name, path, hint):
    with pytest.raises(DatasetError) as e:
        load_dataset(name, tmp_path)
    msg = str(e.value)
    assert str(tmp_path / path) in msg and "layout:" in msg and hint in msg


def test_failed_cifar_download_gives_the_same_error(tmp_path, monkeypatch):
    """Online allowed but the download fails (as offline): the same message, with the cause."""
    import torchvision.datasets as tvd

    monkeypatch.delenv("VAAL_NO_DOWNLOAD")

    def unreachable(self):
        raise OSError("Network is unreachable")  # what urllib raises with no route

    monkeypatch.setattr(tvd.CIFAR10, "download", unreachable)
    with pytest.raises(DatasetError, match="download failed: OSError: Network is unreachable"):
        load_dataset("cifar10", tmp_path)
    with pytest.raises(DatasetError, match="cifar-10-batches-py"):
        load_dataset("cifar10", tmp_path, options=LoadOptions(download=False))


# ----------------------------------------------------------------------------- loaders
def test_cifar_pickles_load_through_torchvision(tmp_path, no_md5):
    folder = write_cifar(tmp_path, per_batch=8, n_test=6)
    data = load_dataset("cifar10", tmp_path)
    assert data.train_x.shape == (40, 3, 32, 32) and data.test_x.shape == (6, 3, 32, 32)
    with open(folder / "data_batch_2", "rb") as f:
        batch = pickle.load(f)
    # image 8 is the first of data_batch_2: rows are CHW-ordered 3072-byte vectors
    assert torch.equal(data.train_x[8], torch.from_numpy(batch["data"][0].reshape(3, 32, 32)))
    assert data.train_y[8].item() == batch["labels"][0] and data.num_classes == 10


def test_cifar100_pickles_use_fine_labels(tmp_path, no_md5):
    folder = write_cifar(tmp_path, name="cifar100", per_batch=8, n_test=6)
    data = load_dataset("cifar100", tmp_path)
    with open(folder / "train", "rb") as f:
        batch = pickle.load(f)
    assert data.num_classes == 100 and data.train_x.shape == (40, 3, 32, 32)
    assert data.train_y.tolist() == batch["fine_labels"]


def test_caltech_drops_clutter_and_splits_each_class(tmp_path):
    folder = write_caltech256(tmp_path, classes=3, per_class=10)
    data = load_dataset("caltech256", tmp_path, 32, QUIET)
    assert data.num_classes == 3  # 257.clutter dropped
    assert len(data.train_y) == 3 * 8 and len(data.test_y) == 3 * 2  # ceil(20%) per class
    assert sorted(set(data.test_y.tolist())) == [0, 1, 2]
    # a cached row is the decoded file: train item 0 is class 0's first file in the permutation
    again = load_dataset("caltech256", tmp_path, 32, QUIET)
    assert torch.equal(again.read("test", torch.arange(6)), data.read("test", torch.arange(6)))
    from PIL import Image

    names = sorted(p.name for p in (folder / "001.class1").iterdir())
    decoded = [
        square(np.asarray(Image.open(folder / "001.class1" / n).convert("RGB")), 37) for n in names
    ]
    got = data.read("train", torch.arange(8)).numpy()
    assert all(any(np.array_equal(g, d) for d in decoded) for g in got)


def test_imagenet_devkit_and_imagefolder_layouts_agree(tmp_path, no_md5):
    write_imagenet(tmp_path / "a", classes=3, train_per_class=5, val_per_class=2, devkit=True)
    write_imagenet(tmp_path / "b", classes=3, train_per_class=5, val_per_class=2, devkit=False)
    a = load_dataset("imagenet", tmp_path / "a", 32, QUIET)
    b = load_dataset("imagenet", tmp_path / "b", 32, QUIET)
    assert (tmp_path / "a" / "imagenet" / "meta.bin").exists()  # torchvision parsed the devkit
    assert a.num_classes == b.num_classes == 3
    assert torch.equal(a.train_y, b.train_y) and torch.equal(a.test_y, b.test_y)
    assert a.test_y.tolist() == [0, 0, 1, 1, 2, 2]
    assert torch.equal(a.read("train", torch.arange(15)), b.read("train", torch.arange(15)))


# ----------------------------------------------------------------------------- cache
def _array_source(n=20, seed=0):
    rng = np.random.default_rng(seed)
    imgs = rng.integers(0, 256, size=(n, 8, 8, 3), dtype=np.uint8)
    return ArraySource(imgs, np.arange(n) % 3, [("batch", n)])


def test_cache_reads_rows_in_requested_order(tmp_path):
    src = _array_source()
    folder = build_cache(src, CacheKey("toy", "train", 8, "h"), tmp_path, workers=1, progress=False)
    reader = CacheReader(folder)
    got = reader.read(np.array([5, 1, 19, 1]))
    want = torch.from_numpy(src.images[[5, 1, 19, 1]].transpose(0, 3, 1, 2).copy())
    assert torch.equal(got, want)
    assert np.array_equal(reader.labels, src.labels)


def test_cache_resumes_only_missing_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(cache_mod, "CHUNK", 8)
    src, key = _array_source(20), CacheKey("toy", "train", 8, "h")
    folder = build_cache(src, key, tmp_path, workers=2, progress=False)
    mm = np.load(folder / "images.npy", mmap_mode="r+")
    mm[0:8] = 0  # chunk 0 damaged but marked done: a resume must not touch it
    mm[8:16] = 0  # chunk 1 "interrupted": its marker removed
    mm.flush()
    del mm
    (folder / "done" / "000001").unlink()
    manifest = json.loads((folder / "manifest.json").read_text())
    (folder / "manifest.json").write_text(json.dumps(manifest | {"complete": False}))
    build_cache(src, key, tmp_path, workers=1, progress=False)
    got = np.load(folder / "images.npy")
    want = src.images.transpose(0, 3, 1, 2)
    assert (got[0:8] == 0).all()  # not redone
    assert np.array_equal(got[8:], want[8:])  # redone
    assert np.array_equal(CacheReader(folder).read(np.arange(8, 20)).numpy(), want[8:])
    with pytest.raises(DatasetError, match="chunk 0 .* does not match its checksum"):
        CacheReader(folder).read(np.array([3]))  # the zeroed chunk is never served as images
    assert json.loads((folder / "manifest.json").read_text())["complete"]


def test_cache_with_another_key_is_refused_or_rebuilt(tmp_path):
    key = CacheKey("toy", "train", 8, "aaa")
    build_cache(_array_source(20), key, tmp_path, workers=1, progress=False)
    other = CacheKey("toy", "train", 8, "bbb")
    with pytest.raises(DatasetError, match="source_hash: cached 'aaa', now 'bbb'.*cache_rebuild"):
        build_cache(_array_source(21), other, tmp_path, workers=1, progress=False)
    folder = build_cache(
        _array_source(21, seed=1), other, tmp_path, workers=1, rebuild=True, progress=False
    )
    assert len(CacheReader(folder)) == 21


def test_adding_a_source_file_changes_the_key(tmp_path, no_md5):
    write_imagenet(tmp_path, classes=2, train_per_class=3, val_per_class=1, devkit=False)
    load_dataset("imagenet", tmp_path, 32, QUIET)
    extra = tmp_path / "imagenet" / "train" / sorted(os.listdir(tmp_path / "imagenet" / "train"))[0]
    (extra / "new.JPEG").write_bytes((next(extra.iterdir())).read_bytes())
    with pytest.raises(DatasetError, match="never reused silently"):
        load_dataset("imagenet", tmp_path, 32, QUIET)


# ----------------------------------------------------------------------------- one interface
def test_memory_and_cache_storage_serve_identical_batches(tmp_path, no_md5):
    write_cifar(tmp_path, per_batch=8, n_test=6)
    mem = load_dataset("cifar10", tmp_path)
    disk = load_dataset("cifar10", tmp_path, options=LoadOptions(storage="cache", progress=False))
    assert disk.storage == "cache" and mem.storage == "memory"
    bm, bd = Batches(mem, torch.device("cpu")), Batches(disk, torch.device("cpu"))
    idx = np.array([7, 0, 33, 12])
    assert torch.equal(bm.images(idx), bd.images(idx))
    assert torch.equal(bm.images([5, 0], "test"), bd.images([5, 0], "test"))
    assert torch.equal(bm.labels(idx), bd.labels(idx))
    assert bm.split_size("test") == bd.split_size("test") == 6
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    assert torch.equal(
        bm.images(idx, augment=True, generator=g1), bd.images(idx, augment=True, generator=g2)
    )
    sub = disk.with_test_subset(np.array([4, 1]))
    assert torch.equal(
        Batches(sub, torch.device("cpu")).images([0, 1], "test"), bd.images([4, 1], "test")
    )


# ----------------------------------------------------------------------------- fixture runs
def test_two_cycles_on_the_cifar_fixture_through_the_cache(tmp_path, no_md5):
    write_cifar(tmp_path / "data", per_batch=8, n_test=6)
    spec = spec_from_dict(fixture_spec_dict("cifar10", storage="cache"))
    records = ActiveLoop(
        spec, "random", 0, tmp_path / "out", data_root=tmp_path / "data", progress=False
    ).run()
    assert [r["n_labeled"] for r in records] == [8, 14]
    assert (tmp_path / "data" / "cache" / "cifar10" / "train-32px" / "manifest.json").exists()


def test_two_cycles_on_the_imagenet_fixture_through_the_cache(tmp_path, no_md5):
    write_imagenet(tmp_path / "data", classes=3, train_per_class=8, val_per_class=2)
    spec = spec_from_dict(fixture_spec_dict("imagenet", cache_resolution=40))
    for strategy in ("random", "vaal"):
        records = ActiveLoop(
            spec, strategy, 0, tmp_path / "out", data_root=tmp_path / "data", progress=False
        ).run()
        assert [r["n_labeled"] for r in records] == [8, 14]
        assert records[-1]["n_selected"] == 0 and 0 <= records[-1]["value"] <= 1
    manifest = json.loads((tmp_path / "data/cache/imagenet/train-40px/manifest.json").read_text())
    assert manifest["key"]["resolution"] == 40 and manifest["shape"] == [24, 3, 40, 40]
    assert Path(tmp_path / "data/imagenet/meta.bin").exists()
