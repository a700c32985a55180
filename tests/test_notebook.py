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
    """Printed text and markdown shown (the report) of every code cell."""
    out = []
    for cell in nb.cells:
        for o in cell.get("outputs", []) if cell.cell_type == "code" else []:
            out.append(o.get("text", ""))
            out.append(o.get("data", {}).get("text/markdown", ""))
    return "".join(out)


def _images(nb: nbformat.NotebookNode) -> int:
    return sum("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", []))


def _pngs(folder: Path) -> set[str]:
    return {p.stem for p in folder.glob("*.png")}


ALL_FIGURES = {
    "classification",
    "segmentation",
    "curves_mnist",
    "ablation_noise",
    "ablation_budget",
    "ablation_biased",
    "ablation_vaal",
    "label_efficiency",
    "sampling_time_table",
    "sampling_time",
    "vaal_diagnostics",
    "query_classes",
}


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
    assert "not drawn: classification: no runs of CIFAR10, CIFAR100, Caltech-256, ImageNet" in text
    assert "run `make reproduce-cifar10`, `make reproduce-cifar100`" in text
    assert "not drawn: ablation_noise: no noisy oracle runs under" in text
    assert "band: ±1 std over 2 seeds" in text  # the sampling-time caption names its band
    assert f"no runs for BDD100K under {engine_results}" in text  # the segmentation caption
    drawn = _pngs(tmp_path / "figures")
    assert {"curves_mnist", "sampling_time", "query_classes", "segmentation"} <= drawn
    assert "classification" not in drawn and not any(s.startswith("ablation_") for s in drawn)
    assert _images(nb) == len(drawn)  # one image per figure written, no placeholder
    # the report writes the same figures under the same names
    analysis.report(engine_results, out_dir=tmp_path / "report", verbose=False)
    assert _pngs(tmp_path / "report") == drawn


def test_notebook_draws_every_figure_from_fixture_logs(tmp_path, monkeypatch):
    root = write_everything(tmp_path / "results")
    nb = _execute(root, tmp_path / "figures", monkeypatch)
    text = _text(nb)
    assert "vaal beats random at 2/2 budgets" in text  # the report's verdicts, shown as markdown
    assert "Wilcoxon signed-rank cannot reach p<0.05 with n=3 pairs" in text
    assert "VAAL selected by chance this cycle (demo_mnist, seed 2, cycle 0, AUC 0.520" in text
    assert "noise10 on MNIST: 10.0% of queried labels flipped" in text
    assert "(ours)" not in text and "UNRESOLVED" not in text
    for name in ALL_FIGURES:
        for ext in (".png", ".pdf", ".txt"):
            assert (tmp_path / "figures" / f"{name}{ext}").stat().st_size > 0, name
    assert _pngs(tmp_path / "figures") == ALL_FIGURES
    analysis.report(root, out_dir=tmp_path / "report", verbose=False)
    assert _pngs(tmp_path / "report") == ALL_FIGURES
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
    # one cell per figure of the registry, in its order
    calls = [c.source for c in nb.cells if "analysis.draw_figure(" in c.source]
    assert calls == [
        f'analysis.draw_figure("{e.name}", runs, RESULTS, FIGURES)' for e in analysis.FIGURES
    ]


def test_notebook_on_an_empty_results_folder(tmp_path, monkeypatch):
    """A new user opening the notebook before any run gets lines that say how to make runs, not a
    traceback and not a placeholder figure."""
    (tmp_path / "results").mkdir()
    nb = _execute(tmp_path / "results", tmp_path / "figures", monkeypatch)
    text = _text(nb)
    assert "no runs yet: produce runs with `make demo`" in text
    assert "run `make reproduce-cifar10`" in text and "`make ablation-mnist_noise20`" in text
    assert "not drawn: label_efficiency: no experiment with random" in text
    assert text.count("not drawn: ") == len(analysis.FIGURES)
    assert _images(nb) == 0 and not list((tmp_path / "figures").glob("*.png"))
