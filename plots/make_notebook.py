"""Writes plots/plots.ipynb without outputs, so the notebook is reviewed as code, not as a blob.

Run `python plots/make_notebook.py` after editing the cells below or `analysis.FIGURES` (one cell
per figure comes from it); all logic lives in `analysis`.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

INTRO = """# VAAL reproduction: tables and figures

Reads the run logs under `RESULTS_DIR` (default `../results`) and writes figures to `FIGURES_DIR`
(default `../figures`). `make figures` runs it headless. Every number comes from `analysis`;
this notebook only calls it. The paper's reference points are overlaid where they exist
(ImageNet: exact, from the authors' result arrays; others: approximate, see
`analysis/reference_data/README.md`).

Bands: ±1 std over seeds below 3 seeds, a 95% t-interval from 3 seeds up; every legend says which.
Every figure comes from `analysis.FIGURES`, the list the report draws from, under the same file
name; a figure the runs do not allow is not drawn, and its cell says what to run to get it."""

SETUP = """%matplotlib inline
import importlib.util
import os
from pathlib import Path

from IPython.display import display

import analysis

RESULTS = Path(os.environ.get("RESULTS_DIR", "../results"))
FIGURES = Path(os.environ.get("FIGURES_DIR", "../figures"))
runs = analysis.load_runs(RESULTS, allow_empty=True)
print(f"{runs['run_dir'].nunique()} runs, {len(runs)} cycle records under {RESULTS}")
if runs.empty:
    print(f"no runs yet: {analysis.runs.HOW_TO_RUN}")
runs.drop_duplicates("run_dir")[["experiment", "ablation", "strategy", "seed", "complete"]]"""

TABLES = (
    "## Tables, tests and verdicts\n\nThe report of `python -m analysis report`, in percent: mean "
    "± std over seeds, area under the budget curve, paired tests against random (budgets where "
    "strategies trained on the same labeled set are not tested; Holm across every strategy x "
    "budget for the verdicts), AUBC differences with a 95% t-interval, random's seed-to-seed "
    "std, label efficiency, pairwise wins (Ash et al. 2020), warnings of unhealthy training and "
    "of VAAL's discriminator at chance."
)
REPORT = """if len(runs):
    display(analysis.build_report(RESULTS))"""

PAPER_TABLE = (
    "## Reproduction vs the paper, point by point\n\nEvery paper reference point (ImageNet: "
    "exact, from the authors' arrays; others: approximate, marked `~`): our mean ± 95% "
    "t-interval over seeds at that labeled percentage, the difference, and whether it lies "
    "within ±1 point."
)

EXPORTS = (
    "## Exports\n\nTidy records (CSV; parquet when pyarrow is installed) and the summary "
    "tables as CSV, markdown and LaTeX booktabs, under `FIGURES_DIR/export`; the same as "
    "`python -m analysis export RESULTS --out DIR`."
)
EXPORT = """if len(runs):
    has_pyarrow = importlib.util.find_spec("pyarrow") is not None
    for path in analysis.export(RESULTS, FIGURES / "export", parquet=has_pyarrow):
        print(path)"""


def _figure_cells() -> list[tuple[str, str]]:
    """A heading and one call per entry of analysis.FIGURES, in the registry's order."""
    from analysis.figures import FIGURES

    cells: list[tuple[str, str]] = [("md", "# Figures")]
    for entry in FIGURES:
        cells.append(("md", f"## {entry.title}\n\n{entry.about}"))
        cells.append(("code", f'analysis.draw_figure("{entry.name}", runs, RESULTS, FIGURES)'))
    return cells


CELLS: list[tuple[str, str]] = [
    ("md", INTRO),
    ("code", SETUP),
    ("md", TABLES),
    ("code", REPORT),
    ("md", PAPER_TABLE),
    ("code", "analysis.paper_table_display(analysis.paper_vs_reproduction(runs))"),
    *_figure_cells(),
    ("md", EXPORTS),
    ("code", EXPORT),
]


def build() -> nbformat.NotebookNode:
    """The notebook object: cells above, python3 kernelspec, no outputs."""
    cells = [new_markdown_cell(src) if kind == "md" else new_code_cell(src) for kind, src in CELLS]
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i:02d}"  # stable ids keep diffs small
    return nb


if __name__ == "__main__":
    import sys

    path = Path(__file__).with_name("plots.ipynb")
    nb = build()
    nbformat.validate(nb)
    if (
        "--check" in sys.argv
    ):  # for pre-commit: the committed notebook is exactly build(), no outputs
        if nbformat.read(path, as_version=4) != nb:
            sys.exit(
                f"{path} differs from plots/make_notebook.py (or has outputs): run it to rewrite"
            )
        sys.exit(0)
    nbformat.write(nb, path)
    print(f"wrote {path}")
