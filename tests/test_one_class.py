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


def _refused_run(spec: str, out: Path, *extra: str) -> str:
    """`python -m vaal_core run SPEC` with `extra`: it must exit 2 with one `error:` line and
    write no results; returns that line."""
    args = [sys.executable, "-m", "vaal_core", "run", spec, "--strategy", "random", "--seed", "0"]
    args += ["--out", str(out), "--no-progress", *extra]
    proc = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 2, proc.stderr
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), proc.stderr
    assert not out.exists(), "a refused run wrote results"
    return err[0]


def test_run_on_a_one_class_folder_is_one_error_line_and_writes_nothing(tmp_path):
    data = tmp_path / "data"
    write_folders(data, train=4, test=1)
    for split in ("train", "test"):  # keep `sky` only, in both splits
        for cls in ("disk", "stripes"):
            for f in (data / split / cls).iterdir():
                f.unlink()
            (data / split / cls).rmdir()
    before = _files(data)
    err = _refused_run(
        "experiments/imagefolder.yaml",
        tmp_path / "results",
        *("--data-root", str(data), "--set", "experiment=one_class"),
    )
    assert "all of one class ('sky')" in err and "at least two" in err
    assert _files(data) == before, "a refused run wrote under the data root"


def test_run_whose_first_labeled_set_is_one_class_is_one_error_line_and_writes_nothing(tmp_path):
    """A biased first pool of one class (protocol.initial_classes: [3]) cannot teach a classifier:
    refused, naming the class, before any run directory exists."""
    err = _refused_run(
        "experiments/mnist.yaml", tmp_path / "results", "--set", "protocol.initial_classes=[3]"
    )
    assert "holds one class only (class 3)" in err and "at least two classes" in err
