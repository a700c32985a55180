"""Bad specs fail at load time, naming the key, before any compute."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from vaal_core.spec import SpecError, load_spec, spec_from_dict

REPO = Path(__file__).resolve().parent.parent


def test_shipped_demo_spec_loads():
    spec = load_spec(REPO / "experiments" / "mnist.yaml")
    assert spec.dataset.name == "mnist"
    assert (
        spec.active.initial + spec.active.budget * (spec.active.cycles - 1)
        <= spec.dataset.pool_size
    )


@pytest.mark.parametrize(
    "data, key",
    [
        ({"experiment": "x", "task": {"epoch": 3}}, "task.epoch"),
        ({"experiment": "x", "learning_rate": 3}, "learning_rate"),
        ({"experiment": "x", "task": {"epochs": "ten"}}, "task.epochs"),
        ({"experiment": "x", "task": {"augment": "yes"}}, "task.augment"),
        ({"experiment": "x", "active": {"budget": 0}}, "active.budget"),
        ({"experiment": "x", "active": {"budget": -5}}, "active.budget"),
        (
            {"experiment": "x", "dataset": {"pool_size": 100}, "active": {"initial": 200}},
            "active.initial",
        ),
        (
            {
                "experiment": "x",
                "dataset": {"pool_size": 1000},
                "active": {"initial": 500, "budget": 200, "cycles": 5},
            },
            "active.budget",
        ),
        ({"experiment": "x", "runtime": {"precision": "fp8"}}, "runtime.precision"),
        ({"experiment": "x", "task": {"lr_milestones": [1.5]}}, "task.lr_milestones"),
        ({"task": {}}, "experiment"),
    ],
)
def test_bad_spec_names_the_key(data, key):
    with pytest.raises(SpecError, match=key.replace(".", r"\.")):
        spec_from_dict(data)


def test_override_is_typed_and_checked():
    spec = load_spec(
        REPO / "experiments" / "mnist.yaml", ["task.iterations=5", "runtime.precision=fp32"]
    )
    assert spec.task.iterations == 5 and spec.runtime.precision == "fp32"
    with pytest.raises(SpecError, match="task.iteration"):
        load_spec(REPO / "experiments" / "mnist.yaml", ["task.iteration=5"])


def test_spec_hash_ignores_strategy_list_but_not_settings():
    a = spec_from_dict({"experiment": "x"})
    b = spec_from_dict({"experiment": "x", "strategies": ["random", "vaal"]})
    c = spec_from_dict({"experiment": "x", "task": {"lr": 0.1}})
    assert a.hash() == b.hash() != c.hash()


def _cli(*args, tmp_path):
    return subprocess.run(
        [sys.executable, "-m", "vaal_core", *args, "--out", str(tmp_path / "res"), "--no-progress"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )


def test_cli_unknown_strategy_lists_valid_names_before_compute(tmp_path):
    r = _cli(
        "run", "experiments/mnist.yaml", "--strategy", "vaaal", "--seed", "0", tmp_path=tmp_path
    )
    assert r.returncode == 2
    assert "unknown strategy 'vaaal'" in r.stderr and "random" in r.stderr and "vaal" in r.stderr
    assert not (tmp_path / "res").exists()


def test_cli_unknown_dataset_and_bad_key(tmp_path):
    r = _cli(
        "run",
        "experiments/mnist.yaml",
        "--strategy",
        "random",
        "--seed",
        "0",
        "--set",
        "dataset.name=mnistt",
        tmp_path=tmp_path,
    )
    assert r.returncode == 2 and "unknown dataset 'mnistt'" in r.stderr and "mnist" in r.stderr
    r = _cli(
        "run",
        "experiments/mnist.yaml",
        "--strategy",
        "random",
        "--seed",
        "0",
        "--set",
        "active.budget=0",
        tmp_path=tmp_path,
    )
    assert r.returncode == 2 and "active.budget" in r.stderr
    assert not (tmp_path / "res").exists()


def test_missing_spec_file_says_where_specs_are(tmp_path):
    r = _cli(
        "run", "experiments/nope.yaml", "--strategy", "random", "--seed", "0", tmp_path=tmp_path
    )
    assert r.returncode == 2 and "does not exist" in r.stderr and "experiments/" in r.stderr


def test_every_shipped_spec_validates():
    from vaal_core.run.loop import preflight

    root = Path(__file__).resolve().parent.parent / "experiments"
    specs = sorted(root.rglob("*.yaml"))
    assert len(specs) >= 10
    for path in specs:
        spec = load_spec(path)
        for strategy in spec.strategies:
            preflight(spec, strategy)


def test_base_is_merged_underneath_and_loops_are_refused(tmp_path):
    (tmp_path / "parent.yaml").write_text(
        "experiment: parent\nactive: {initial: 10, budget: 10, cycles: 3}\ntask: {lr: 0.5}\n"
    )
    (tmp_path / "child.yaml").write_text(
        "base: parent.yaml\nexperiment: child\nactive: {budget: 5}\n"
    )
    spec = load_spec(tmp_path / "child.yaml")
    assert spec.experiment == "child" and spec.task.lr == 0.5
    assert (spec.active.initial, spec.active.budget, spec.active.cycles) == (10, 5, 3)
    (tmp_path / "a.yaml").write_text("base: b.yaml\nexperiment: a\n")
    (tmp_path / "b.yaml").write_text("base: a.yaml\nexperiment: b\n")
    with pytest.raises(SpecError, match="'base' chain loops back"):
        load_spec(tmp_path / "a.yaml")
    (tmp_path / "c.yaml").write_text("base: missing.yaml\nexperiment: c\n")
    with pytest.raises(SpecError, match="missing.yaml does not exist"):
        load_spec(tmp_path / "c.yaml")
