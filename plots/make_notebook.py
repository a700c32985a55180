"""Writes plots/plots.ipynb without outputs, so the notebook is reviewed as code, not as a blob.

Run `python plots/make_notebook.py` after editing the cells below; all logic lives in `analysis`.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

CELLS: list[tuple[str, str]] = [
    (
        "md",
        """# VAAL reproduction: tables and figures

Reads the run logs under `RESULTS_DIR` (default `../results`) and writes figures to `FIGURES_DIR`
(default `../figures`). `make figures` runs it headless. Every number comes from `analysis`;
this notebook only calls it. The paper's reference points are overlaid where they exist
(ImageNet: exact, from the authors' result arrays; others: approximate, see
`analysis/reference_data/README.md`).""",
    ),
    (
        "code",
        """%matplotlib inline
import os
from pathlib import Path

import analysis

RESULTS = Path(os.environ.get("RESULTS_DIR", "../results"))
FIGURES = Path(os.environ.get("FIGURES_DIR", "../figures"))
runs = analysis.load_runs(RESULTS, allow_empty=True)
standard = runs[runs["protocol"] == "standard"]
print(f"{runs['run_dir'].nunique()} runs, {len(runs)} cycle records under {RESULTS}")
runs.drop_duplicates("run_dir")[["experiment", "strategy", "seed", "complete"]]""",
    ),
    ("md", "## Summary over seeds (mean, std, 95% t-interval) and area under the budget curve"),
    ("code", "analysis.summarize(runs)"),
    ("code", "analysis.aubc_summary(runs)"),
    (
        "md",
        "## Significance against random\n\nPaired on seed; Holm correction across budgets per "
        "strategy; pairwise wins after Ash et al. (2020).",
    ),
    ("code", 'analysis.compare(runs, baseline="random")'),
    ("code", 'print("\\n".join(analysis.verdicts(runs, baseline="random")["verdict"]))'),
    ("code", "analysis.win_tie_loss(runs)"),
    ("md", "## Classification: CIFAR10, CIFAR100, Caltech-256, ImageNet"),
    (
        "code",
        """analysis.paper_figure(
    runs,
    ["CIFAR10", "CIFAR100", "Caltech-256", "ImageNet"],
    root=RESULTS,
    out=FIGURES / "classification",
)""",
    ),
    ("md", "## Segmentation: Cityscapes, BDD100K"),
    (
        "code",
        'analysis.paper_figure(runs, ["Cityscapes", "BDD100K"], root=RESULTS, '
        'out=FIGURES / "segmentation")',
    ),
    ("md", "## Ablations: noisy oracle, budget, biased pool (protocol other than `standard`)"),
    (
        "code",
        """ablations = runs[runs["protocol"] != "standard"]
if ablations.empty:
    print(f"no ablation runs under {RESULTS}: run `make reproduce-ablations`")
else:
    display(analysis.plot_ablation(ablations, out=FIGURES / "ablations"))""",
    ),
    ("md", "## Sampling time per query"),
    (
        "code",
        """if standard.empty:
    print(f"no runs under {RESULTS}: run `make demo`")
else:
    display(analysis.plot_sampling_time(standard, out=FIGURES / "sampling_time"))""",
    ),
    ("md", "## Demo: MNIST"),
    ("code", 'analysis.paper_figure(runs, ["MNIST"], root=RESULTS, out=FIGURES / "mnist_demo")'),
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
