"""The manual's examples run as written: each test takes a page's code blocks and executes them,
so a page cannot drift from the code it documents."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import TINY_OVERRIDES

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
DATA_ROOT = Path(os.environ.get("DATA_ROOT") or REPO / "data").resolve()


def code_blocks(page: str, language: str) -> list[str]:
    """The fenced ```<language> blocks of docs/<page>, in order."""
    text = (DOCS / page).read_text()
    return re.findall(rf"^```{language}\n(.*?)^```", text, flags=re.S | re.M)


def _python(code: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "DATA_ROOT": str(DATA_ROOT), **(env or {})},
        timeout=600,
    )


def test_the_api_page_example_runs_on_mnist():
    (example,) = code_blocks("api.md", "python")
    r = _python(example, REPO)
    assert r.returncode == 0, r.stderr
    assert "VAAL picks" in r.stdout and "entropy picks" in r.stdout, r.stdout


# the run the plug-in page's command line makes, made tiny (two cycles on 600 MNIST images)
TINY = [*TINY_OVERRIDES, "active.cycles=2"]


@pytest.fixture(scope="module")
def plugin_dir(tmp_path_factory) -> Path:
    """The plug-in page's module, written where `$VAAL_PLUGINS` finds it."""
    folder = tmp_path_factory.mktemp("plugin")
    module, _ = code_blocks("plugins.md", "python")
    (folder / "my_strategies.py").write_text(module)
    return folder


def _plugin_env(folder: Path, plugins: str = "my_strategies") -> dict[str, str]:
    return {
        "PYTHONPATH": os.pathsep.join([str(REPO), str(folder)]),
        "VAAL_PLUGINS": plugins,
        "OMP_NUM_THREADS": "1",
    }


def _page_command(folder: Path, out: Path) -> list[str]:
    """The `python -m vaal_core run ...` line of the page's shell block, tiny and into `out`."""
    (shell,) = code_blocks("plugins.md", "bash")
    (line,) = [x for x in shell.splitlines() if x.startswith("python -m vaal_core run")]
    args = shlex.split(line)[1:]
    tiny = [a for o in TINY for a in ("--set", o)]
    return [sys.executable, *args, *tiny, "--out", str(out), "--no-progress"]


def test_the_plugin_page_strategy_runs_through_the_cli_with_its_option(plugin_dir, tmp_path):
    r = subprocess.run(
        _page_command(plugin_dir, tmp_path / "out"),
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "DATA_ROOT": str(DATA_ROOT), **_plugin_env(plugin_dir)},
        timeout=600,
    )
    assert r.returncode == 0, r.stderr
    run_dir = tmp_path / "out" / "tiny" / "subset_margin" / "seed-0"
    records = [json.loads(x) for x in (run_dir / "cycles.jsonl").read_text().splitlines()]
    assert [rec["cycle"] for rec in records] == [0, 1]
    assert {rec["strategy"] for rec in records} == {"subset_margin"}
    query = records[0]
    assert query["n_selected"] == 40  # active.budget of the tiny run
    assert query["query_stats"]["subset_margin_scored"] == 500  # the --set option reached it
    first, second = np.load(run_dir / "pool-0.npy"), np.load(run_dir / "pool-1.npy")
    assert len(np.setdiff1d(second, first)) == 40 and np.isin(first, second).all()


def test_the_plugin_page_python_example_and_the_figure_attributes(plugin_dir):
    _, example = code_blocks("plugins.md", "python")
    r = _python(example, REPO, {"PYTHONPATH": str(plugin_dir)})
    assert r.returncode == 0, r.stderr
    assert "subset_margin picks" in r.stdout
    names = (
        "from analysis.style import strategy_color, strategy_label; "
        "print(strategy_label('subset_margin'), strategy_color('subset_margin'), sep='|')"
    )
    r = _python(names, REPO, _plugin_env(plugin_dir))
    assert r.stdout.strip() == "Margin (random subset)|#b8860b", r.stderr


def test_run_help_lists_a_plugin_strategy(plugin_dir):
    r = subprocess.run(
        [sys.executable, "-m", "vaal_core", "run", "--help"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, **_plugin_env(plugin_dir)},
    )
    assert "subset_margin" in " ".join(r.stdout.split()), r.stdout + r.stderr


SHORT = """
from vaal_core.strategies import Strategy, register_strategy


@register_strategy("one_short")
class OneShort(Strategy):
    def select(self, ctx, budget):
        return ctx.pool.unlabeled[: budget - 1]
"""


def test_a_strategy_returning_too_few_indices_is_one_error_line(tmp_path):
    (tmp_path / "short_strategy.py").write_text(SHORT)
    sets = [a for o in TINY for a in ("--set", o)]
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "vaal_core",
            "run",
            "experiments/mnist.yaml",
            *sets,
            "--strategy",
            "one_short",
            "--seed",
            "0",
            "--out",
            str(tmp_path / "out"),
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "DATA_ROOT": str(DATA_ROOT), **_plugin_env(tmp_path, "short_strategy")},
        timeout=600,
    )
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip().splitlines()[-1:] == [
        "error: strategy 'one_short' returned 39 indices for a budget of 40; select(ctx, budget) "
        "must return exactly `budget` distinct unlabeled indices"
    ], r.stderr
    assert "Traceback" not in r.stderr
