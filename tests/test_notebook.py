"""plots/plots.ipynb executed end to end in a real kernel, on logs of a small real engine run."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell

import analysis
from tests.analysis_fixtures import write_everything
from tests.fixtures.segmentation import CLI_TINY, write_cityscapes
from vaal_core.__main__ import main as engine_cli

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.xdist_group("notebook")  # the engine runs of the module fixture, once
NOTEBOOK = REPO / "plots" / "plots.ipynb"
VENV_JUPYTER = Path(sys.prefix) / "share" / "jupyter"
SEEDS = (0, 1)


@pytest.fixture(scope="module")
def engine_results(tmp_path_factory) -> Path:
    """Two seeds of random on a 1000-image MNIST pool, two cycles each, by the real engine CLI."""
    out = tmp_path_factory.mktemp("engine") / "results"
    for seed in SEEDS:
        cmd = [sys.executable, "-m", "vaal_core", "run", "experiments/mnist.yaml"]
        cmd += ["--strategy", "random", "--seed", str(seed), "--out", str(out), "--no-progress"]
        for kv in (
            "active.cycles=2",
            "active.initial=100",
            "active.budget=100",
            "dataset.pool_size=1000",
            "dataset.test_size=1000",
            "task.iterations=10",  # mnist.yaml trains fixed steps; keep the real run short
        ):
            cmd += ["--set", kv]
        done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
    # the shipped Cityscapes spec on the Cityscapes fixture (real loader, cache, DRN-D-22 at
    # 1/16 width): what the segmentation figure draws
    seg_data = tmp_path_factory.mktemp("segdata")
    write_cityscapes(seg_data)
    for strategy in ("random", "vaal"):
        for seed in SEEDS:
            args = [
                "run",
                str(REPO / "experiments/cityscapes.yaml"),
                "--strategy",
                strategy,
                "--seed",
                str(seed),
                "--out",
                str(out),
                "--data-root",
                str(seg_data),
                "--no-progress",
            ]
            assert engine_cli([*args, *(a for kv in CLI_TINY for a in ("--set", kv))]) == 0
    return out


def _execute(results: Path, figures: Path, monkeypatch) -> nbformat.NotebookNode:
    """Run the notebook in the venv's python3 kernel with RESULTS_DIR/FIGURES_DIR set."""
    if not (VENV_JUPYTER / "kernels" / "python3").exists():
        subprocess.run([sys.executable, "-m", "ipykernel", "install", "--sys-prefix"], check=True)
    monkeypatch.setenv("JUPYTER_PATH", str(VENV_JUPYTER))  # searched before any user kernelspec
    monkeypatch.setenv("PYTHONPATH", str(REPO))  # this checkout's analysis, not an installed one
    monkeypatch.setenv("RESULTS_DIR", str(results))
    monkeypatch.setenv("FIGURES_DIR", str(figures))
    argv0 = KernelSpecManager().get_kernel_spec("python3").argv[0]
    assert argv0 in {"python", "python3", sys.executable}, f"python3 kernel runs {argv0}"
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nb.cells.insert(0, new_code_cell("import sys\nprint(sys.prefix)"))
    NotebookClient(
        nb,
        kernel_name="python3",
        timeout=600,
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    ).execute()
    assert nb.cells[0].outputs[0]["text"].strip() == sys.prefix, "kernel is not the venv's python"
    return nb


def _text(nb: nbformat.NotebookNode) -> str:
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)


def _images(nb: nbformat.NotebookNode) -> int:
    return sum("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", []))


ALL_FIGURES = (
    "vaal_diagnostics",
    "query_classes",
    "classification",
    "segmentation",
    "ablation_noise",
    "ablation_budget",
    "ablation_biased",
    "ablation_vaal",
    "sampling_time_table",
    "sampling_time",
    "mnist_demo",
)


def test_notebook_on_real_engine_runs(engine_results, tmp_path, monkeypatch):
    df = analysis.load_runs(engine_results)
    assert sorted(df["seed"].unique()) == list(SEEDS) and df["complete"].all()
    seg = df[df["dataset"] == "cityscapes"]
    assert set(seg["strategy"]) == {"random", "vaal"} and (seg["metric"] == "miou").all()
    df = df[df["dataset"] == "mnist"]
    # the engine records the class histogram of every query (100 images, none on the last cycle)
    assert df.loc[df["cycle"] == 0, "selected_classes"].map(sum).eq(100).all()
    nb = _execute(engine_results, tmp_path / "figures", monkeypatch)
    text = _text(nb)
    assert f"no runs for CIFAR10 under {engine_results}: run `make reproduce-cifar10`" in text
    assert "ablation_noise10_mnist: not run" in text
    assert "band: ±1 std over 2 seeds" in text  # the sampling-time caption names its band
    assert "no runs for Cityscapes under" not in text  # drawn from the fixture runs
    assert f"no runs for BDD100K under {engine_results}" in text
    for name in ("mnist_demo", "sampling_time", "classification", "query_classes", "segmentation"):
        assert (tmp_path / "figures" / f"{name}.png").stat().st_size > 0
    assert _images(nb) >= len(ALL_FIGURES)  # figures without data say so in a drawn panel
    analysis.report(engine_results, out_dir=tmp_path / "report", verbose=False)
    assert (tmp_path / "report" / "demo_mnist.png").stat().st_size > 0


def test_notebook_draws_every_figure_from_fixture_logs(tmp_path, monkeypatch):
    root = write_everything(tmp_path / "results")
    nb = _execute(root, tmp_path / "figures", monkeypatch)
    text = _text(nb)
    assert "vaal beats random at 2/2 budgets" in text
    assert "Wilcoxon signed-rank cannot reach p<0.05 with n=3 pairs" in text
    assert "VAAL selected by chance this cycle (demo_mnist, seed 2, cycle 0, AUC 0.520" in text
    assert "noise10 on MNIST: 10.0% of queried labels flipped" in text
    for name in ALL_FIGURES:
        for ext in (".png", ".pdf"):
            assert (tmp_path / "figures" / f"{name}{ext}").stat().st_size > 0, name
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors


def test_notebook_committed_clean_and_generated():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    spec = importlib.util.spec_from_file_location("make_notebook", REPO / "plots/make_notebook.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    assert nbformat.writes(gen.build()) == nbformat.writes(nb), "run plots/make_notebook.py"


def test_notebook_on_an_empty_results_folder(tmp_path, monkeypatch):
    """Issue 19: a new user opening the notebook before any run gets panels that say how to make
    runs, not a traceback (aubc_summary used to raise KeyError 'experiment')."""
    (tmp_path / "results").mkdir()
    nb = _execute(tmp_path / "results", tmp_path / "figures", monkeypatch)
    text = _text(nb)
    assert "no runs yet: produce runs with `make demo`" in text
    assert "run `make reproduce-cifar10`" in text and "(`make ablation-mnist_noise20`)" in text
    assert "no runs with random under" in text  # the label-efficiency panel
    for name in (*ALL_FIGURES, "label_efficiency"):
        assert (tmp_path / "figures" / f"{name}.png").stat().st_size > 0, name
