"""`benchmarks/gpu_check.py --dry-run`: the GPU check's code paths rehearsed on the CPU.

The real check needs CUDA and runs rarely; this keeps it from rotting. One subprocess runs the
whole dry run (toy sizes); the tests read its table and JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "benchmarks" / "gpu_check.py"
# the dry run is a module fixture: on one worker it runs once (two workers would each pay ~20 s)
pytestmark = pytest.mark.xdist_group("gpu_check")

# every row the GPU check must report, by the name the table prints
CORRECTNESS = [
    "fp32 CPU vs device: task step (classification)",
    "fp32 CPU vs device: task step (segmentation)",
    "fp32 CPU vs device: VAE step",
    "fp32 CPU vs device: discriminator step",
    "fp32 CPU vs device: pool scoring",
    "bf16: steps stay finite",
    "fp16: steps stay finite",
    "compiled vs eager: VAAL steps + scoring",
    "compiled vs eager: task step",
    "CLI 2 cycles, killed at a failpoint, resumed: classification",
    "CLI 2 cycles, killed at a failpoint, resumed: segmentation",
    "cache reads deliver the same bytes",
    "DDP world size 1 runs a cycle",
]
SPEED = [
    "device peak: bf16 GEMM 8192^3",
    "VAAL iteration: eager fp32",
    "VAAL iteration: bf16",
    "VAAL iteration: bf16 + channels_last",
    "VAAL iteration: compiled (bf16 + channels_last, CUDA graphs)",
    "task step: VGG16-bn @32",
    "task step: ResNet18 @224",
    "task step: DRN-D-22 @512 crop",
    "pool scoring",
    "cache read",
    "host syncs per VAAL iteration",
    "peak memory",
    "achieved TFLOP/s: VAAL iteration",
    "achieved TFLOP/s: VGG16-bn step",
    "achieved TFLOP/s: ResNet18 step",
    "achieved TFLOP/s: DRN-D-22 step",
]
# every `make reproduce-<name>` spec, in file-name order: classification per protocol,
# segmentation as shipped, the MNIST demo and the image-folder template without a GPU cost model
_PROTOCOLS = [f"({p})" for p in ("paper", "release", "modern")]
HOURS = [
    "make reproduce-bdd100k (shipped spec)",
    *(f"make reproduce-{d} {p}" for d in ("caltech256", "cifar10", "cifar100") for p in _PROTOCOLS),
    "make reproduce-cityscapes (shipped spec)",
    "make reproduce-imagefolder",
    *(f"make reproduce-imagenet {p}" for p in _PROTOCOLS),
    "make reproduce-mnist",
]
# rows that cannot run without CUDA: their dry-run cell must say so, not show a number
CUDA_ONLY = [
    "fp16: steps stay finite",
    "compiled vs eager: VAAL steps + scoring",
    "compiled vs eager: task step",
    "device peak: bf16 GEMM 8192^3",
    "VAAL iteration: compiled (bf16 + channels_last, CUDA graphs)",
]


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("gpu-check") / "gpu-check.json"
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    env.pop("VAAL_FAILPOINT", None)
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--dry-run", "--json", str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    return proc, out


def _table(stdout: str) -> dict[str, list[str]]:
    """row name -> its cells [section, row, dry-run, GPU, note] from the markdown table."""
    rows = {}
    for line in stdout.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| ") and len(cells) == 5 and cells[0] != "section":
            rows[cells[1]] = cells
    return rows


def test_dry_run_passes_and_prints_every_row(dry_run):
    proc, _ = dry_run
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    table = _table(proc.stdout)
    assert list(table) == CORRECTNESS + SPEED + HOURS
    header = next(line for line in proc.stdout.splitlines() if line.startswith("| section"))
    assert "dry-run: CPU, toy sizes" in header and "GPU: paper shapes" in header
    sections = {
        **dict.fromkeys(CORRECTNESS, "correctness"),
        **dict.fromkeys(SPEED, "speed"),
        **dict.fromkeys(HOURS, "GPU-hours"),
    }
    for name, (section, _, dry, gpu, _) in table.items():
        assert section == sections[name], name
        assert gpu.startswith("not run"), f"{name}: GPU column {gpu!r}"
        assert not dry.startswith("FAIL"), f"{name}: {dry}"
    for name in CUDA_ONLY:
        assert table[name][2].startswith("not run ("), f"{name} needs CUDA: {table[name][2]}"
    # what ran on the CPU carries a measured value, not a placeholder
    assert table["VAAL iteration: bf16 + channels_last"][2].startswith("ok: ")
    assert table["VAAL iteration: bf16 + channels_last"][2].endswith(" ms")
    assert table["host syncs per VAAL iteration"][2] == "ok: 0 syncs"
    assert "backend gloo" in table["DDP world size 1 runs a cycle"][4]
    cli = table["CLI 2 cycles, killed at a failpoint, resumed: segmentation"][4]
    assert "killed at after_record:0" in cli and "cycles [0, 1]" in cli
    costed = [h for h in HOURS if h not in ("make reproduce-imagefolder", "make reproduce-mnist")]
    for name in costed:  # hours from toy timings are computed but labelled as meaningless
        assert "from dry-run toy timings: not meaningful" in table[name][4], name


def test_dry_run_json_has_the_same_rows(dry_run):
    proc, out = dry_run
    body = json.loads(out.read_text())
    assert body["mode"] == "dry-run"
    assert [r["name"] for r in body["rows"]] == CORRECTNESS + SPEED + HOURS
    assert all(r["gpu"].startswith("not run") for r in body["rows"])
    assert all(r["status"] in ("ok", "not run") for r in body["rows"])
    by_name = {r["name"]: r for r in body["rows"]}
    for name in CUDA_ONLY:
        assert by_name[name]["status"] == "not run" and by_name[name]["value"] is None
    assert set(body["section_seconds"]) == {"correctness", "speed", "GPU-hours"}
    assert str(out) in proc.stdout


def test_without_cuda_the_real_check_is_one_error_line(tmp_path):
    # no GPU visible, on any machine (a GPU machine included): the real check refuses in one line
    env = {**os.environ, "PYTHONPATH": str(REPO), "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--json", str(tmp_path / "x.json")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: no CUDA device is visible")
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x.json").exists()
