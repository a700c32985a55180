"""A folder that cannot teach is refused before any compute: `run` on an image folder whose
training images are all of one class (a classifier trained on one class answers it every time
and scores 100%). One `error:` line, exit status 2, nothing written. (select's one-class labels
CSV: tests/test_select.py.)"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.fixtures.imagefolder import write_folders

REPO = Path(__file__).resolve().parent.parent


def _files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


def test_run_on_a_one_class_folder_is_one_error_line_and_writes_nothing(tmp_path):
    data = tmp_path / "data"
    write_folders(data, train=4, test=1)
    for split in ("train", "test"):  # keep `sky` only, in both splits
        for cls in ("disk", "stripes"):
            for f in (data / split / cls).iterdir():
                f.unlink()
            (data / split / cls).rmdir()
    before = _files(data)
    args = [
        sys.executable,
        "-m",
        "vaal_core",
        "run",
        "experiments/imagefolder.yaml",
        "--strategy",
        "random",
        "--seed",
        "0",
        "--data-root",
        str(data),
        "--out",
        str(tmp_path / "results"),
        "--no-progress",
        "--set",
        "experiment=one_class",
    ]
    proc = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 2, proc.stderr
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), proc.stderr
    assert "all of one class ('sky')" in err[0] and "at least two" in err[0]
    assert not (tmp_path / "results").exists(), "a refused run wrote results"
    assert _files(data) == before, "a refused run wrote under the data root"


def test_run_whose_first_labeled_set_is_one_class_is_one_error_line_and_writes_nothing(tmp_path):
    """A biased first pool of one class (protocol.initial_classes: [3]) cannot teach a classifier:
    refused, naming the class, before any run directory exists."""
    args = [
        sys.executable,
        "-m",
        "vaal_core",
        "run",
        "experiments/mnist.yaml",
        "--strategy",
        "random",
        "--seed",
        "0",
        "--out",
        str(tmp_path / "results"),
        "--no-progress",
        "--set",
        "protocol.initial_classes=[3]",
    ]
    proc = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 2, proc.stderr
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), proc.stderr
    assert "holds one class only (class 3)" in err[0] and "at least two classes" in err[0]
    assert not (tmp_path / "results").exists(), "a refused run wrote results"
