"""Spec keys a run sets but never reads are named at load time, with what wins over them."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import tiny_spec
from vaal_core.__main__ import main as vaal
from vaal_core.spec import load_spec
from vaal_core.spec.unused_keys import unused_keys

REPO = Path(__file__).resolve().parent.parent
SPECS = sorted((REPO / "experiments").glob("**/*.yaml"))


@pytest.mark.parametrize(
    "sections, key, wins",
    [
        ({"task": {"iterations": 8, "epochs": 20}}, "task.epochs", "task.iterations (8)"),
        ({"task": {"epoch_basis": "train_set"}}, "task.epoch_basis", "task.iterations (8)"),
        ({"task": {"schedule": "cosine", "lr_gamma": 0.5}}, "task.lr_gamma", "'cosine'"),
        ({"task": {"lr_milestones": [0.5]}}, "task.lr_milestones", "'cosine'"),
        ({"task": {"optimizer": "adam", "momentum": 0.5}}, "task.momentum", "'adam'"),
        ({"task": {"augmentation": "flip"}}, "task.augmentation", "task.augment is false"),
    ],
)
def test_a_key_the_run_never_reads_is_named_with_what_wins(sections, key, wins):
    spec = tiny_spec(**sections)
    if key == "task.lr_milestones":  # read by multistep (the default): unused under cosine only
        assert unused_keys(spec, ["random"]) == []
        spec = tiny_spec(task={**sections["task"], "schedule": "cosine"})
    (message,) = unused_keys(spec, ["random"])
    assert message.startswith(f"spec key '{key}' (") and wins in message, message


def test_the_same_keys_are_quiet_where_they_are_read():
    spec = tiny_spec(
        task={"iterations": None, "epochs": 3, "epoch_basis": "train_set", "momentum": 0.5}
    )
    assert unused_keys(spec, ["random"]) == []
    assert unused_keys(tiny_spec(task={"augment": True, "augmentation": "flip"}), ["random"]) == []


def test_a_strategy_option_of_a_strategy_not_run_is_named():
    spec = tiny_spec(baselines={"typiclust_knn": 7, "mc_samples": 5})
    knn, mc = sorted(unused_keys(spec, ["random", "vaal"]), reverse=True)
    assert knn == (
        "spec key 'baselines.typiclust_knn' (7) is not used: only typiclust reads it, and this "
        "command runs random, vaal"
    )
    assert mc.startswith("spec key 'baselines.mc_samples' (5) is not used: only dbal, mc_dropout")
    assert unused_keys(spec, ["typiclust", "dbal"]) == []


def test_no_shipped_spec_warns_under_its_own_protocol():
    """What `make reproduce-*` and `make ablation-*` run: quiet. (Under another preset a warning
    can be right: `--protocol modern` on MNIST trains the spec's 300 steps, not modern's epochs.)"""
    for path in SPECS:
        spec = load_spec(path)
        assert unused_keys(spec, spec.strategies) == [], path


def test_the_cli_prints_one_warning_line_per_unused_key_before_any_run(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    code = vaal(
        [
            "run",
            "experiments/mnist.yaml",
            "--strategy",
            "random",
            "--seed",
            "0",
            "--set",
            "task.epochs=20",
            "--set",
            "baselines.typiclust_knn=7",
            "--out",
            str(blocker / "out"),  # unwritable: the run stops before reading any data
        ]
    )
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert lines[0] == (
        "warning: spec key 'task.epochs' (20) is not used: task.iterations (300) is set and wins"
    )
    assert lines[1].startswith("warning: spec key 'baselines.typiclust_knn' (7) is not used")
    assert lines[2].startswith("error: cannot create the run directory")
