"""Every bad command-line argument of `python -m vaal_core` and `python -m slurm.sweep`: one
`error:` line on stderr, exit code 2, nothing written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from slurm.sweep import main as sweep
from vaal_core.__main__ import main as vaal

REPO = Path(__file__).resolve().parent.parent
SPEC = "experiments/mnist.yaml"


def _one_error_line(capsys, code: int, *expected: str) -> str:
    captured = capsys.readouterr()
    assert code == 2, captured
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), captured.err
    for part in expected:
        assert part in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize(
    "args, expected",
    [
        (["run", SPEC, "--strategy", "random", "--seed", "-1"], ["--seed", ">= 0", "-1"]),
        (["run", SPEC, "--strategy", "random", "--seed", "one"], ["--seed", "integer", "'one'"]),
        (["run", SPEC, "--seed", "0"], ["--strategy"]),
        (["run", SPEC, "--strategy", "random"], ["--seed"]),
        (["run", SPEC, "--strategy", "random", "--seed", "0", "--bogus"], ["--bogus"]),
        (["run"], ["spec"]),
        ([], ["command"]),
        (["train", SPEC], ["train"]),
        (
            ["run", SPEC, "--strategy", "random", "--seed", "0", "--set", "vaal.widht=8"],
            ["unknown spec key 'vaal.widht'", "did you mean 'vaal.width'?"],
        ),
        (
            ["run", SPEC, "--strategy", "random", "--seed", "0", "--set", "vall.width=8"],
            ["unknown spec key 'vall'", "did you mean 'vaal'?"],
        ),
        (
            ["run", SPEC, "--strategy", "random", "--seed", "0", "--protocol", "papr"],
            ["unknown protocol 'papr'", "did you mean 'paper'?"],
        ),
        (["run", SPEC, "--strategy", "entropi", "--seed", "0"], ["did you mean 'entropy'?"]),
        (["demo", SPEC, "--seeds", "3"], ["--seeds", "not a count", "0-2", "3-3"]),
        (["demo", SPEC, "--seeds", "0"], ["--seeds", "not a count", "0-0"]),
        (["demo", SPEC, "--seeds", "-2"], ["--seeds", "'-2'", "0-4"]),
        (["demo", SPEC, "--seeds", "2-1"], ["--seeds", "'2-1'"]),
        (["demo", SPEC, "--seeds", "0,1,1"], ["--seeds", "twice"]),
    ],
)
def test_run_cli_argument_errors(args, expected, tmp_path, capsys):
    out = tmp_path / "out"
    _one_error_line(capsys, vaal([*args, "--out", str(out)] if args else args), *expected)
    assert not out.exists()


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--seeds", "-1"], ["--seeds", "-1"]),
        (["--seeds", "3"], ["--seeds", "not a count", "0-2", "3-3"]),
        (["--cpus-per-task", "0"], ["--cpus-per-task", ">= 1"]),
        (["--gpus-per-task", "-1"], ["--gpus-per-task", ">= 0"]),
        (["--mem-gb", "0"], ["--mem-gb", "> 0"]),
        (["--mem-gb", "nan"], ["--mem-gb", "> 0"]),
        (["--timeout-min", "soon"], ["--timeout-min", "integer"]),
        (["--array-parallelism", "0"], ["--array-parallelism"]),
        (["--tasks-per-node", "0"], ["--tasks-per-node"]),
        (["--wait-timeout-s", "-5"], ["--wait-timeout-s"]),
        (["--executor", "cloud"], ["--executor", "cloud"]),
        (["--bogus"], ["--bogus"]),
        (["--profile", "nosuch"], ["nosuch"]),
    ],
)
def test_sweep_cli_argument_errors(args, expected, tmp_path, capsys):
    out = tmp_path / "out"
    code = sweep([SPEC, "--out", str(out), "--executor", "debug", *args])
    _one_error_line(capsys, code, *expected)
    assert not out.exists()


def test_sweep_without_a_spec(capsys):
    _one_error_line(capsys, sweep([]), "spec")


def test_negative_seed_exits_2_from_the_shell(tmp_path):
    """The case that once ended in numpy's traceback, as a user meets it."""
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "vaal_core",
            "run",
            SPEC,
            "--strategy",
            "random",
            "--seed",
            "-1",
            "--out",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip().splitlines() == [
        "error: argument --seed: must be >= 0, got -1 (usage: python -m vaal_core run --help)"
    ]
    assert not (tmp_path / "out").exists()


def test_run_and_sweep_take_the_same_spec_arguments_and_a_sweep_applies_the_protocol(
    tmp_path, capsys
):
    """One list (`vaal_core.cli.add_spec_arguments`) for every command that launches runs: a
    preset given to a sweep reaches the spec of its runs (here: the status table's plan)."""
    from slurm.sweep import _parser as sweep_parser
    from vaal_core.__main__ import _parser as vaal_parser

    def options(p) -> set[str]:
        return {s for a in p._actions for s in a.option_strings} | {
            a.dest for a in p._actions if not a.option_strings
        }

    run = vaal_parser()._subparsers._group_actions[0].choices["run"]
    shared = {"spec", "--out", "--data-root", "--set", "--protocol"}
    assert shared <= options(run) and shared <= options(sweep_parser())
    out = tmp_path / "out"
    assert (
        sweep(
            [
                SPEC,
                "--protocol",
                "paper",
                "--strategies",
                "random",
                "--seeds",
                "0-0",
                "--out",
                str(out),
                "--status",
            ]
        )
        == 0
    )
    assert sweep([SPEC, "--protocol", "nope", "--status", "--out", str(out)]) == 2
    _one_error_line(capsys, 2, "unknown protocol 'nope'")


@pytest.mark.parametrize(
    "text, seeds",
    [("0-2", [0, 1, 2]), ("0,3,5", [0, 3, 5]), ("0-1,4", [0, 1, 4]), ("3-3", [3]), ("2,0", [2, 0])],
)
def test_seeds_are_a_range_or_a_list(text, seeds):
    from vaal_core.cli import seed_list

    assert seed_list(text) == seeds


def test_demo_and_sweep_read_seeds_with_one_parser():
    """`--seeds 0-2` means seeds 0, 1, 2 to both commands (the demo once read a count)."""
    from slurm.sweep import _parser as sweep_parser
    from vaal_core.__main__ import _parser as vaal_parser

    demo = vaal_parser().parse_args(["demo", SPEC, "--seeds", "0-2"])
    assert demo.seeds == [0, 1, 2]
    assert sweep_parser().parse_args([SPEC, "--seeds", "0,3,5"]).seeds == [0, 3, 5]


def test_run_help_lists_the_registered_strategies_and_parsing_never_imports_torch():
    code = (
        "import sys; from vaal_core.__main__ import _parser; "
        "_parser().parse_args(['run', 'x.yaml', '--strategy', 'random', '--seed', '0']); "
        "print('torch' in sys.modules)"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert r.stdout.strip() == "False", r.stderr
    r = subprocess.run(
        [sys.executable, "-m", "vaal_core", "run", "--help"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert r.returncode == 0, r.stderr
    listed = " ".join(r.stdout.split())
    for name in ("random", "entropy", "vaal", "typiclust"):
        assert f" {name}," in listed or f" {name} " in listed, listed
