"""The spec hash: pinned for every shipped spec, blind to the thread count, and old run
directories (hashed with the thread count) still resume.

The pins were computed before `runtime.num_threads` left the hash (main at 600cdef; the CIFAR-100
and Caltech-256 ablations at main b52a5c1); a new
shipped spec must be added here, so its hash is pinned from its first commit.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.helpers import TINY_OVERRIDES, tiny_spec
from vaal_core.run.loop import ActiveLoop
from vaal_core.run.runlog import read_records, reproducible_part
from vaal_core.spec import load_spec, spec_dict_hash

REPO = Path(__file__).resolve().parent.parent

# mnist.yaml and the MNIST ablations built on it: rehashed on purpose when the demo's task recipe
# became Adam + cosine over 300 steps, and again when it stated its top-line's length
# (`task.topline: passes`); every other pin dates from before
SHIPPED = {
    "experiments/bdd100k.yaml": "f17becd816e5",
    "experiments/caltech256.yaml": "bf0484438ae8",
    "experiments/cifar10.yaml": "2d100e57eb58",
    "experiments/cifar100.yaml": "e360df576234",
    "experiments/cityscapes.yaml": "ea9d2629f8e5",
    "experiments/imagefolder.yaml": "6b683a4616bc",
    "experiments/imagenet.yaml": "fbe299c5cccb",
    "experiments/mnist.yaml": "3875ebd8662d",
    "experiments/ablations/caltech256_biased20.yaml": "e92e1d7c40ad",
    "experiments/ablations/cifar100_biased10.yaml": "bf06785e6e23",
    "experiments/ablations/cifar100_biased20.yaml": "0ad37c11133f",
    "experiments/ablations/cifar100_budget_large.yaml": "fc554d87c160",
    "experiments/ablations/cifar100_budget_xlarge.yaml": "3fcef5bde2be",
    "experiments/ablations/cifar100_fixedvae.yaml": "447cbb16c780",
    "experiments/ablations/cifar100_noadv.yaml": "dfde67d9940a",
    "experiments/ablations/cifar100_noise10.yaml": "58d5b276d492",
    "experiments/ablations/cifar100_noise20.yaml": "c2bcc4677d3d",
    "experiments/ablations/cifar100_noise30.yaml": "bfec0a35451b",
    "experiments/ablations/mnist_biased.yaml": "e78dd348a705",
    "experiments/ablations/mnist_budget_large.yaml": "69cd7f7d0ca9",
    "experiments/ablations/mnist_budget_small.yaml": "f11a9555437d",
    "experiments/ablations/mnist_fixedvae.yaml": "b488b2c50829",
    "experiments/ablations/mnist_klmean.yaml": "411c313a49bd",
    "experiments/ablations/mnist_noadv.yaml": "8bbfea08b117",
    "experiments/ablations/mnist_noise10.yaml": "1ba019d5c87a",
    "experiments/ablations/mnist_noise20.yaml": "8df1b6339e88",
    "experiments/ablations/mnist_noise30.yaml": "5df8dfb0ff36",
}
# tiny_spec with runtime.num_threads=2, hashed before the thread count left the hash
OLD_HASH_TWO_THREADS = "85b0d19f3c33"


def test_every_shipped_spec_keeps_its_hash():
    shipped = sorted(
        str(p.relative_to(REPO))
        for p in [*REPO.glob("experiments/*.yaml"), *REPO.glob("experiments/ablations/*.yaml")]
    )
    assert shipped == sorted(SHIPPED), "pin the hash of a new shipped spec here"
    assert {name: load_spec(REPO / name).hash() for name in shipped} == SHIPPED


def test_thread_count_leaves_the_hash_precision_and_device_stay():
    base = tiny_spec()
    assert tiny_spec(runtime={"num_threads": 2}).hash() == base.hash()
    assert tiny_spec(runtime={"num_threads": None}).hash() == base.hash()
    for changed in (
        {"precision": "bf16"},
        {"device": "cpu"},
        {"log_every": 7},
        {"channels_last": True},
        {"compile": True},
    ):
        assert tiny_spec(runtime=changed).hash() != base.hash(), changed
    # the old rule, which runs written before this change were hashed with
    two = tiny_spec(runtime={"num_threads": 2})
    assert spec_dict_hash(two.to_dict(), legacy=True) == OLD_HASH_TWO_THREADS


def _cli_run(out: Path, cycles: int, threads: int) -> subprocess.CompletedProcess:
    sets = [*TINY_OVERRIDES, f"active.cycles={cycles}", f"runtime.num_threads={threads}"]
    return subprocess.run(
        [
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
            str(out),
            "--no-progress",
            *[a for s in sets for a in ("--set", s)],
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )


def test_a_run_started_with_two_threads_resumes_with_one_through_the_cli(tmp_path, mnist):
    out = tmp_path / "out"
    first = _cli_run(out, 2, threads=2)
    assert first.returncode == 0, first.stderr
    log = out / "tiny" / "random" / "seed-0" / "cycles.jsonl"
    (cycle0, _) = read_records(log)
    again = _cli_run(out, 3, threads=1)  # extended: cycle 0 kept, cycle 1 redone with a query
    assert again.returncode == 0, again.stderr
    records = read_records(log)
    assert [r["cycle"] for r in records] == [0, 1, 2] and records[0] == cycle0
    assert len({r["spec_hash"] for r in records}) == 1


def test_an_old_run_directory_with_two_threads_resumes_with_one(tmp_path, mnist):
    """A directory whose spec.yaml and records carry the old hash (thread count included)."""
    two = tiny_spec(active={"cycles": 2}, runtime={"num_threads": 2})
    one = tiny_spec(active={"cycles": 3}, runtime={"num_threads": 1})
    ActiveLoop(two, "random", 0, tmp_path / "out", data=mnist, progress=False).run()
    run = tmp_path / "out" / "tiny" / "random" / "seed-0"
    # written the old way: the hash counted runtime.num_threads
    stored = yaml.safe_load((run / "spec.yaml").read_text())
    assert stored["runtime"]["num_threads"] == 2
    stored["spec_hash"] = OLD_HASH_TWO_THREADS
    (run / "spec.yaml").write_text(yaml.safe_dump(stored, sort_keys=False))
    old = [{**r, "spec_hash": OLD_HASH_TWO_THREADS} for r in read_records(run / "cycles.jsonl")]
    (run / "cycles.jsonl").write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in old))

    resumed = ActiveLoop(one, "random", 0, tmp_path / "out", data=mnist, progress=False).run()
    assert [r["cycle"] for r in resumed] == [0, 1, 2]
    assert resumed[0] == {**old[0], "spec_hash": one.hash()}  # kept, not redone
    assert {r["spec_hash"] for r in read_records(run / "cycles.jsonl")} == {one.hash()}
    now = yaml.safe_load((run / "spec.yaml").read_text())
    assert now["spec_hash"] == one.hash() and now["rehashed"]["from"] == OLD_HASH_TWO_THREADS
    # the same as a run that never stopped on one thread: the same pools and selections, and the
    # same numbers up to float rounding (another thread count sums in another order, so a
    # training loss may differ in its last digits, and a metric by an image or two)
    fresh = ActiveLoop(one, "random", 0, tmp_path / "fresh", data=mnist, progress=False).run()
    for a, b in zip(resumed, fresh, strict=True):
        a, b = reproducible_part(a), reproducible_part(b)
        assert {k: v for k, v in a.items() if k not in THREAD_ROUNDED} == {
            k: v for k, v in b.items() if k not in THREAD_ROUNDED
        }
        for key in ("value", "train_fit"):
            assert a[key] == pytest.approx(b[key], abs=0.02), key
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=0.05)


# record fields computed by float reductions whose order depends on the thread count
THREAD_ROUNDED = ("value", "train_loss", "train_fit", "fit_ok")


def test_an_old_directory_of_another_spec_is_still_refused(tmp_path, mnist):
    from vaal_core.errors import RunDirConflict

    ActiveLoop(
        tiny_spec(active={"cycles": 1}), "random", 0, tmp_path, data=mnist, progress=False
    ).run()
    run = tmp_path / "tiny" / "random" / "seed-0"
    stored = yaml.safe_load((run / "spec.yaml").read_text())
    stored["task"]["lr"] = 0.5  # the body no longer hashes to what it was written with
    (run / "spec.yaml").write_text(yaml.safe_dump(stored, sort_keys=False))
    with pytest.raises(RunDirConflict, match="another spec"):
        ActiveLoop(
            tiny_spec(active={"cycles": 2}, task={"lr": 0.5}),
            "random",
            0,
            tmp_path,
            data=mnist,
            progress=False,
        ).run()
