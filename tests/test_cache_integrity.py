"""The disk cache against damage and kills: a chunk whose bytes changed on disk is caught by its
checksum and rebuilt from the source files (never served as images), and a build killed between
chunks resumes without decoding a finished chunk again (failpoint `cache_after_chunk`)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from tests.fixtures.datasets import write_imagenet
from vaal_core.datasets import DatasetError, LoadOptions, load_dataset
from vaal_core.datasets import cache as cache_mod
from vaal_core.datasets.cache import ArraySource, CacheKey, CacheReader, build_cache, disk_use

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("VAAL_NO_DOWNLOAD", "1")


def _flip(path: Path, offset: int, n: int = 16) -> None:
    """Invert n bytes of a file in place, as a bad sector or a stray write would."""
    with open(path, "r+b") as f:
        f.seek(offset)
        data = f.read(n)
        f.seek(offset)
        f.write(bytes(255 - b for b in data))


def test_a_damaged_chunk_is_rebuilt_from_the_jpegs_never_read(tmp_path, no_md5, monkeypatch):
    monkeypatch.setattr(cache_mod, "CHUNK", 4)  # 6 training JPEGs: chunks 0 and 1
    write_imagenet(tmp_path, classes=2, train_per_class=3, val_per_class=1, devkit=False)
    opts = LoadOptions(progress=False, cache_workers=1)
    clean = load_dataset("imagenet", tmp_path, 32, opts)
    want = clean.read("train", np.arange(6)).clone()
    reader = clean.train
    images = reader.folder / "images.npy"
    _flip(images, reader.offset + 4 * reader.row + 100)  # inside row 4: chunk 1
    damaged = np.load(images)[4]
    assert not np.array_equal(damaged, want[4].numpy())  # the bytes on disk really changed

    with pytest.raises(DatasetError, match="chunk 1 of the cache .* does not match its checksum"):
        CacheReader(reader.folder).read(np.array([5]))  # no source to repair from: refused
    assert np.array_equal(CacheReader(reader.folder).read(np.arange(4)), want[:4])  # chunk 0 ok

    again = load_dataset("imagenet", tmp_path, 32, opts)  # a reader that can rebuild
    got = again.read("train", np.array([5, 4, 0]))
    assert np.array_equal(got, want[[5, 4, 0]])
    assert again.train.repaired == [1]
    assert np.array_equal(np.load(images)[4], want[4].numpy())  # repaired on disk too


BUILD = textwrap.dedent(
    """
    import os, sys
    import numpy as np
    from vaal_core.datasets import cache
    from vaal_core.datasets.cache import ArraySource, CacheKey, build_cache

    class Logged(ArraySource):
        def row(self, i, resolution):
            with open(os.environ["ROWS_LOG"], "a") as f:
                f.write(f"{i}\\n")
            return super().row(i, resolution)

    cache.CHUNK = 4
    rng = np.random.default_rng(0)
    src = Logged(rng.integers(0, 256, (18, 8, 8, 3), dtype=np.uint8), np.arange(18) % 3)
    build_cache(src, CacheKey("toy", "train", 8, "h"), sys.argv[1], workers=1, progress=False)
    """
)


def _build(root: Path, log: Path, failpoint: str | None) -> subprocess.CompletedProcess:
    env = dict(os.environ, ROWS_LOG=str(log), PYTHONPATH=str(REPO))
    env.pop("VAAL_FAILPOINT", None)
    if failpoint:
        env["VAAL_FAILPOINT"] = failpoint
    return subprocess.run([sys.executable, "-c", BUILD, str(root)], env=env, capture_output=True)


def test_a_build_killed_between_chunks_resumes_without_decoding_them_again(tmp_path):
    first, second = tmp_path / "first.log", tmp_path / "second.log"
    killed = _build(tmp_path / "cache", first, "cache_after_chunk:2")
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()
    rows1 = [int(x) for x in first.read_text().split()]
    assert rows1 == [0, *range(12)]  # row 0 for the shape, chunks 0-2 (4 rows each), the kill
    folder = tmp_path / "cache" / "toy" / "train-8px"
    assert not json.loads((folder / "manifest.json").read_text())["complete"]

    resumed = _build(tmp_path / "cache", second, None)
    assert resumed.returncode == 0, resumed.stderr.decode()
    rows2 = [int(x) for x in second.read_text().split()]
    assert rows2 == list(range(12, 18))  # only chunks 3, 4: none decoded twice
    rng = np.random.default_rng(0)
    want = rng.integers(0, 256, (18, 8, 8, 3), dtype=np.uint8).transpose(0, 3, 1, 2)
    assert np.array_equal(CacheReader(folder).read(np.arange(18)).numpy(), want)


def test_disk_use_formula_matches_the_blocks_a_built_cache_holds(tmp_path, monkeypatch):
    monkeypatch.setattr(cache_mod, "CHUNK", 4)
    rng = np.random.default_rng(1)
    src = ArraySource(rng.integers(0, 256, (10, 8, 8, 3), dtype=np.uint8), np.arange(10) % 3)
    folder = build_cache(src, CacheKey("toy", "train", 8, "h"), tmp_path, 1, progress=False)
    use = disk_use(10, (3, 8, 8), chunk=4)
    assert use.images == os.stat(folder / "images.npy").st_blocks * 512
    assert use.labels == os.stat(folder / "labels.npy").st_blocks * 512
    markers = [p for p in (folder / "done").iterdir()]
    assert len(markers) == 3 and use.markers == sum(p.stat().st_blocks * 512 for p in markers)
