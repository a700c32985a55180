"""benchmarks/bench_ledger.py: the ledger's measured-effect column, run at a tiny scale."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _ledger(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "benchmarks/bench_ledger.py", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=600,
    )


def test_quick_ledger_row_runs_both_sides_and_prints_a_paired_difference(tmp_path):
    r = _ledger("--quick", "--rows", "eval_mode_training", "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    row = next(ln for ln in r.stdout.splitlines() if ln.startswith("| eval_mode_training |"))
    cells = [c.strip() for c in row.split("|")[1:-1]]
    assert cells[1] == "random" and cells[3] == "2"  # two seeds paired
    assert "±" in cells[6]
    # both sides ran as ordinary run directories: the base and the switched experiment
    assert (tmp_path / "ledger_base/random/seed-1/cycles.jsonl").exists()
    assert (tmp_path / "ledger_eval_mode_training/random/seed-1/cycles.jsonl").exists()
    again = _ledger(
        "--quick", "--rows", "eval_mode_training", "--out", str(tmp_path), "--table-only"
    )
    assert row in again.stdout  # the table is reprinted from the runs, without rerunning


def test_an_unknown_row_is_one_error_line():
    r = _ledger("--rows", "eval_mode_trainin")
    assert r.returncode == 2 and r.stderr.startswith("error: unknown ledger rows")
    assert "eval_mode_training" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_quick_evaluation_rows_measure_the_originals_test_and_validation_bugs():
    r = subprocess.run(
        [sys.executable, "benchmarks/bench_eval_quirks.py", "--quick"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr
    row14 = [ln for ln in r.stdout.splitlines() if ln.startswith("| 14 |")][-1]
    row15 = next(ln for ln in r.stdout.splitlines() if ln.startswith("| 15 |"))
    # 395da2e's train-mode, mirrored test costs accuracy on a barely trained model
    assert float(row14.split("|")[3].split("±")[0]) < 0
    assert "same checkpoint kept in" in row15 and "of 2 |" in row15


def test_side_by_side_without_a_clone_of_the_original_is_one_error_line(tmp_path):
    """The original code is never in this repository: the script reads the user's clone."""

    def run(path):
        return subprocess.run(
            [sys.executable, "benchmarks/original_side_by_side.py", "replay", "--original", path],
            capture_output=True,
            text=True,
            cwd=REPO,
            timeout=120,
        )

    missing = run(str(tmp_path / "vaal"))
    assert missing.returncode == 2 and len(missing.stderr.strip().splitlines()) == 1
    assert "git clone https://github.com/sinhasam/vaal" in missing.stderr
    subprocess.run(["git", "init", "-q", str(tmp_path / "empty")], check=True)
    empty = run(str(tmp_path / "empty"))
    assert empty.returncode == 2 and "has no 67263f3:model.py" in empty.stderr
