"""Results leaving the suite: tidy records and tables (CSV, parquet, markdown, LaTeX), the paper
vs reproduction table, and the side-by-side of one dataset under each protocol."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis import load_runs
from analysis.export import ExportError, export, to_booktabs
from analysis.paper_table import paper_table_display, paper_vs_reproduction
from tests.analysis_fixtures import write_everything, write_run

REPO = Path(__file__).resolve().parent.parent


def _run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "analysis", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={"PYTHONPATH": str(REPO), "PATH": ""},
    )


def _booktabs(tex: str) -> None:
    for rule in (r"\toprule", r"\midrule", r"\bottomrule", r"\begin{tabular}", r"\end{tabular}"):
        assert rule in tex, rule
    assert tex.index(r"\toprule") < tex.index(r"\midrule") < tex.index(r"\bottomrule")


def test_export_records_and_tables_round_trip(tmp_path):
    root = write_everything(tmp_path / "results")
    out = tmp_path / "export"
    written = export(root, out, parquet=False, note=lambda _: None)
    names = {p.name for p in written}
    for stem in ("summary", "aubc", "paper_vs_reproduction"):
        assert {f"{stem}.csv", f"{stem}.md", f"{stem}.tex"} <= names
    df = load_runs(root)
    records = pd.read_csv(out / "records.csv")
    assert len(records) == len(df)  # one row per cycle record
    assert list(records.columns) == list(df.columns)
    key = ["run_dir", "cycle"]
    back = records.sort_values(key).reset_index(drop=True)
    orig = df.sort_values(key).reset_index(drop=True)
    np.testing.assert_allclose(back["value"], orig["value"])
    assert (back["strategy"] == orig["strategy"]).all()
    # list cells come back as JSON text of the same list
    hist = back["selected_classes"].dropna().iloc[0]
    assert hist.startswith("[") and len(pd.io.json.ujson_loads(hist)) == 10
    summary = pd.read_csv(out / "summary.csv")
    demo = summary[(summary["experiment"] == "demo_mnist") & (summary["strategy"] == "vaal")]
    assert list(demo["n_labeled"]) == [100, 200, 300] and (demo["n_seeds"] == 3).all()
    # the vaal mean at 300 labels over seeds 0,1,2: 0.90 + 2 * 0.002 * seed, in percent
    assert demo["mean"].iloc[-1] == pytest.approx(90.4) and (demo["unit"] == "%").all()
    assert list(demo["labeled (%)"]) == pytest.approx([10, 20, 30])
    aubc = pd.read_csv(out / "aubc.csv")
    row = aubc[(aubc["experiment"] == "demo_mnist") & (aubc["strategy"] == "random")].iloc[0]
    assert row["mean"] == pytest.approx(78.95) and row["n_seeds"] == 3
    for stem in ("summary", "aubc", "paper_vs_reproduction"):
        _booktabs((out / f"{stem}.tex").read_text())
    tex = (out / "summary.tex").read_text()
    assert r"mc\_dropout" not in tex and r"demo\_mnist" in tex  # underscores escaped
    assert r"$\pm$" in tex and "±" not in tex
    assert (
        "| demo_mnist | vaal | 300 | 30.0 | 90.40 ± 0.40 | 3 |" in (out / "summary.md").read_text()
    )


def test_export_parquet_round_trips(tmp_path):
    import pyarrow  # noqa: F401  (a dependency in pyproject.toml: never skipped)

    root = write_everything(tmp_path / "results")
    export(root, tmp_path / "out", note=lambda _: None)
    back = pd.read_parquet(tmp_path / "out/records.parquet")
    df = load_runs(root)
    assert len(back) == len(df) and list(back.columns) == list(df.columns)
    np.testing.assert_allclose(back["value"], df["value"])
    assert back["complete"].dtype == bool


def test_export_without_pyarrow_is_one_error_line_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # `import pyarrow` now raises ImportError
    root = write_everything(tmp_path / "results")
    with pytest.raises(ExportError, match="pyarrow.*pip install pyarrow.*--no-parquet"):
        export(root, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_export_of_an_empty_folder_writes_header_only_files(tmp_path):
    (tmp_path / "results").mkdir()
    notes: list[str] = []
    export(tmp_path / "results", tmp_path / "out", parquet=False, note=notes.append)
    assert len(notes) == 1 and notes[0].startswith("note: no runs under")
    assert pd.read_csv(tmp_path / "out/records.csv").empty
    assert list(pd.read_csv(tmp_path / "out/summary.csv").columns)[:4] == [
        "experiment",
        "dataset",
        "protocol",
        "strategy",
    ]
    _booktabs((tmp_path / "out/summary.tex").read_text())
    # every paper reference point is still listed, without runs
    paper = pd.read_csv(tmp_path / "out/paper_vs_reproduction.csv")
    assert len(paper) > 20 and (paper["n_seeds"] == 0).all()


def test_export_cli_writes_and_says_where(tmp_path):
    root = write_everything(tmp_path / "results")
    res = _run_cli("export", str(root), "--out", str(tmp_path / "out"), "--no-parquet")
    assert res.returncode == 0, res.stderr
    last = res.stdout.strip().splitlines()[-1]
    assert last.startswith(
        f"wrote 10 files to {tmp_path / 'out'}/: records.csv, summary.{{csv,md,tex}}"
    )


def test_booktabs_escapes_text():
    tex = to_booktabs(pd.DataFrame({"a_b": ["x_y & 50%"], "n": [3]}))
    _booktabs(tex)
    assert r"a\_b" in tex and r"x\_y \& 50\%" in tex


def _imagenet_runs(root: Path, values_at_15: list[float]) -> None:
    """ImageNet-like runs: 10% then 15% labeled (pool 1000, 100 + 50 per cycle)."""
    for seed, v in enumerate(values_at_15):
        for strategy in ("random", "vaal"):
            write_run(
                root,
                "imagenet",
                strategy,
                seed,
                [0.396, v],
                dataset="imagenet",
                initial=100,
                budget=50,
                spec_hash="i" * 12,
            )


def test_paper_table_compares_each_reference_point(tmp_path):
    # VAAL at 15% on ImageNet: the paper's 45.437 (exact, authors' npy arrays)
    _imagenet_runs(tmp_path, [0.450, 0.455, 0.460])
    table = paper_vs_reproduction(load_runs(tmp_path))
    vaal15 = table[(table["method"] == "VAAL") & (table["labeled_percent"] == 15)].iloc[0]
    assert vaal15["reference"] == "exact" and vaal15["paper"] == pytest.approx(45.437)
    assert vaal15["ours"] == pytest.approx(45.5) and vaal15["n_seeds"] == 3
    assert vaal15["diff"] == pytest.approx(45.5 - 45.437)
    # 95% t half-width of (45.0, 45.5, 46.0): t(0.975, 2) * 0.5 / sqrt(3)
    assert vaal15["ci95"] == pytest.approx(4.302653 * 0.5 / np.sqrt(3), rel=1e-5)
    assert vaal15["within_1pt"] and vaal15["paper_in_ci"]
    random15 = table[(table["method"] == "Random") & (table["labeled_percent"] == 15)].iloc[0]
    assert random15["diff"] == pytest.approx(45.5 - 43.2682) and not random15["within_1pt"]
    # the shared initial pool is compared at 10% with random's first cycle
    init = table[table["method"].str.startswith("Initial pool")].iloc[0]
    assert init["ours"] == pytest.approx(39.6) and init["within_1pt"]
    # points without our runs stay, saying so; secondhand points are marked approximate
    vaal30 = table[(table["method"] == "VAAL") & (table["labeled_percent"] == 30)].iloc[0]
    assert vaal30["n_seeds"] == 0 and pd.isna(vaal30["ours"])
    cifar = table[table["dataset"] == "CIFAR10"]
    assert len(cifar) == 1 and cifar["reference"].iloc[0] == "approx."
    assert not table["method"].str.contains("third|user|UNRESOLVED|CDAL", case=False).any()
    shown = paper_table_display(table)
    assert "~80.9 (approx.)" in set(shown["paper (%)"]) and "no runs" in set(shown["ours (%)"])


def test_paper_table_leaves_ablations_out_and_cli_prints_it(tmp_path):
    _imagenet_runs(tmp_path, [0.450, 0.455])
    write_run(
        tmp_path,
        "ablation_noise10_imagenet",
        "vaal",
        0,
        [0.1, 0.1],
        dataset="imagenet",
        initial=100,
        budget=50,
        spec_hash="n" * 12,
    )
    table = paper_vs_reproduction(load_runs(tmp_path))
    assert set(table["experiment"].dropna()) == {"imagenet"}
    res = _run_cli("paper-table", str(tmp_path))
    assert res.returncode == 0, res.stderr
    assert "| ImageNet | VAAL | 15 | 45.44 | 45.25 ± 3.18 | 2 | -0.19 | yes | yes | imagenet |" in (
        res.stdout
    )
