"""The active-learning loop on the real MNIST: records, determinism, resume, refusal to mix specs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import tiny_spec
from vaal_core.errors import RunDirConflict
from vaal_core.run.loop import ActiveLoop
from vaal_core.run.runlog import read_records, reproducible_part

REPO = Path(__file__).resolve().parent.parent


def _stable(records):
    return [reproducible_part(r) for r in records]


def _run(spec, strategy, seed, out, mnist):
    return ActiveLoop(spec, strategy, seed, out, progress=False, data=mnist).run()


def test_two_cycle_run_writes_complete_records(tmp_path, mnist):
    spec = tiny_spec(active={"cycles": 2})
    records = _run(spec, "random", 0, tmp_path, mnist)
    run_dir = tmp_path / "tiny" / "random" / "seed-0"
    assert [r["cycle"] for r in records] == [0, 1]
    assert [r["n_labeled"] for r in records] == [40, 80]
    assert records[0]["fraction"] == pytest.approx(40 / 600)
    assert records[0]["selected_sha1"] and records[1]["selected_sha1"] is None
    assert 0.1 < records[1]["value"] <= 1.0  # trained above chance on real digits
    on_disk = read_records(run_dir / "cycles.jsonl")
    assert on_disk == json.loads(json.dumps(records))
    env = json.loads((run_dir / "env.json").read_text())
    assert env["torch"] and env["pool_size"] == 600 and env["val_size"] == 0
    pool0, pool1 = np.load(run_dir / "pool-0.npy"), np.load(run_dir / "pool-1.npy")
    assert set(pool0) < set(pool1) and len(pool1) == 80


def test_initial_set_is_shared_across_strategies(tmp_path, mnist):
    spec = tiny_spec(active={"cycles": 1})
    a = _run(spec, "random", 3, tmp_path, mnist)
    b = _run(spec, "vaal", 3, tmp_path, mnist)
    assert a[0]["labeled_sha1"] == b[0]["labeled_sha1"]
    assert a[0]["value"] == b[0]["value"]  # same set, same seed: the same first model
    c = _run(spec, "random", 4, tmp_path, mnist)
    assert c[0]["labeled_sha1"] != a[0]["labeled_sha1"]


@pytest.mark.parametrize("strategy", ["random", "vaal"])
def test_same_seed_same_selection(tmp_path, mnist, strategy):
    spec = tiny_spec()
    a = _run(spec, strategy, 0, tmp_path / "a", mnist)
    b = _run(spec, strategy, 0, tmp_path / "b", mnist)
    assert _stable(a) == _stable(b)
    c = _run(spec, strategy, 1, tmp_path / "c", mnist)
    assert [r["selected_sha1"] for r in c] != [r["selected_sha1"] for r in a]


def test_validation_split_is_disjoint_and_recorded(tmp_path, mnist):
    spec = tiny_spec(dataset={"val_size": 100}, active={"cycles": 2})
    _run(spec, "random", 0, tmp_path, mnist)
    run_dir = tmp_path / "tiny" / "random" / "seed-0"
    assert json.loads((run_dir / "env.json").read_text())["val_size"] == 100


def test_a_run_dir_of_another_spec_is_refused(tmp_path, mnist):
    _run(tiny_spec(active={"cycles": 1}), "random", 0, tmp_path, mnist)
    before = (tmp_path / "tiny" / "random" / "seed-0" / "cycles.jsonl").read_bytes()
    with pytest.raises(RunDirConflict, match="another spec"):
        _run(tiny_spec(active={"cycles": 1}, task={"lr": 0.2}), "random", 0, tmp_path, mnist)
    assert (tmp_path / "tiny" / "random" / "seed-0" / "cycles.jsonl").read_bytes() == before


def test_completed_run_is_not_repeated(tmp_path, mnist):
    first = _run(tiny_spec(active={"cycles": 2}), "random", 0, tmp_path, mnist)
    log = tmp_path / "tiny" / "random" / "seed-0" / "cycles.jsonl"
    before = log.read_bytes()
    again = _run(tiny_spec(active={"cycles": 2}), "random", 0, tmp_path, mnist)
    assert again == json.loads(json.dumps(first)) and log.read_bytes() == before


def test_truncated_last_line_is_repaired_on_resume(tmp_path, mnist):
    spec = tiny_spec()
    full = _run(spec, "random", 0, tmp_path / "full", mnist)
    part = tmp_path / "part"
    _run(tiny_spec(active={"cycles": 3}), "random", 0, part, mnist)
    log = part / "tiny" / "random" / "seed-0" / "cycles.jsonl"
    lines = log.read_bytes().splitlines(keepends=True)
    log.write_bytes(b"".join(lines[:1]) + lines[1][:25])  # a write cut off mid-line
    resumed = _run(spec, "random", 0, part, mnist)
    assert _stable(resumed) == _stable(full)
    assert log.read_bytes().count(b"\n") == 3


def test_demo_jobs_run_in_parallel_processes_and_record_what_one_process_records(tmp_path):
    """`demo --jobs 2` (what `make demo` runs) against the sequential demo: the same records but
    clocks, at the same thread count."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    from tests.helpers import TINY_OVERRIDES
    from vaal_core.run.runlog import reproducible_part

    repo = Path(__file__).resolve().parent.parent
    sets = [a for o in [*TINY_OVERRIDES, "active.cycles=2"] for a in ("--set", o)]

    def demo(out: Path, *extra: str) -> dict:
        r = subprocess.run(
            [
                sys.executable,
                "-m",
                "vaal_core",
                "demo",
                "experiments/mnist.yaml",
                *sets,
                "--strategies",
                "random,vaal",
                "--seeds",
                "0-0",
                "--out",
                str(out),
                "--figures",
                str(out / "fig"),
                "--no-progress",
                *extra,
            ],
            capture_output=True,
            text=True,
            cwd=repo,
            timeout=600,
        )
        assert r.returncode == 0, r.stderr
        return {
            str(p.relative_to(out)): [
                reproducible_part(json.loads(x)) | {"run_id": None}
                for x in p.read_text().splitlines()
            ]
            for p in sorted(out.rglob("cycles.jsonl"))
        }

    parallel = demo(tmp_path / "par", "--jobs", "2")
    assert len(parallel) == 2
    assert parallel == demo(tmp_path / "seq")
