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
`analysis/reference_data/README.md`).

Bands: ±1 std over seeds below 3 seeds, a 95% t-interval from 3 seeds up; every legend says which.
Each paper figure is drawn from whatever runs exist and its caption lists the runs still missing.""",
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
print(f"{runs['run_dir'].nunique()} runs, {len(runs)} cycle records under {RESULTS}")
if runs.empty:
    print(f"no runs yet: {analysis.runs.HOW_TO_RUN}")
runs.drop_duplicates("run_dir")[["experiment", "ablation", "strategy", "seed", "complete"]]""",
    ),
    (
        "md",
        "## Summary over seeds (mean, std, 95% t-interval, band) and area under the budget curve",
    ),
    ("code", "analysis.summarize(runs)"),
    ("code", "analysis.aubc_summary(runs)"),
    (
        "md",
        "## Significance against random\n\nPaired on seed; budgets where strategies trained on "
        "the same labeled set (equal `labeled_sha1`) are not tested; Holm across every strategy x "
        "budget of an experiment for the verdicts (`p_holm_family`), across one strategy's "
        "budgets in `p_holm`; pairwise wins after Ash et al. (2020), Holm over every pair x "
        "budget. Verdicts say when a test cannot reach significance by construction (exact "
        "Wilcoxon on n pairs: p >= 2/2^n). Then: AUBC differences with a paired 95% t-interval, "
        "and random's seed-to-seed std beside each strategy's mean difference.",
    ),
    (
        "md",
        "## Training health\n\nOne warning per cycle whose task model did not fit its own "
        "labeled set (`fit_ok` false): that point measures training, not selection. Curve "
        "figures mark them with a red x; nothing is dropped. Records without the health fields "
        "count as unknown.",
    ),
    ("code", 'print("\\n".join(analysis.health_warnings(runs)) or "no unhealthy cycle recorded")'),
    ("code", 'analysis.compare(runs, baseline="random")'),
    ("code", 'analysis.aubc_diffs(runs, baseline="random")'),
    ("code", 'analysis.training_noise(runs, baseline="random")'),
    ("code", 'print("\\n".join(analysis.verdicts(runs, baseline="random")["verdict"]))'),
    ("code", "analysis.win_tie_loss(runs)"),
    (
        "md",
        "## VAAL diagnostics\n\nDiscriminator ROC-AUC on held-out labeled vs unlabeled images "
        "(hatched: the chance band, Hanley & McNeil 1982) and active latent units (Burda et al. "
        "2016). Cycles at chance are listed first.",
    ),
    ("code", 'print("\\n".join(analysis.chance_warnings(runs)))'),
    ("code", 'analysis.plot_vaal_diagnostics(runs, out=FIGURES / "vaal_diagnostics")'),
    ("md", "## Classes of the queried images (sampling bias)"),
    ("code", 'analysis.plot_query_classes(runs, out=FIGURES / "query_classes")'),
    ("md", "## Classification: CIFAR10, CIFAR100, Caltech-256, ImageNet"),
    (
        "code",
        'analysis.paper_figure(runs, "classification", root=RESULTS, '
        'out=FIGURES / "classification")',
    ),
    ("md", "## Segmentation: Cityscapes, BDD100K"),
    (
        "code",
        'analysis.paper_figure(runs, "segmentation", root=RESULTS, out=FIGURES / "segmentation")',
    ),
    (
        "md",
        "## Ablations\n\nExperiments named `ablation_<kind>_<dataset>`: noisy oracle, budget size, "
        "biased initial pool, and VAAL's own parts (adversary off, fixed VAE, KL mean).",
    ),
    (
        "code",
        'analysis.ablation_figure(runs, "noise", root=RESULTS, out=FIGURES / "ablation_noise")',
    ),
    (
        "code",
        'analysis.ablation_figure(runs, "budget", root=RESULTS, out=FIGURES / "ablation_budget")',
    ),
    (
        "code",
        'analysis.ablation_figure(runs, "biased", root=RESULTS, out=FIGURES / "ablation_biased")',
    ),
    (
        "code",
        'analysis.ablation_figure(runs, "vaal", root=RESULTS, out=FIGURES / "ablation_vaal")',
    ),
    (
        "md",
        "VAAL's own ablations beside base VAAL: AUBC paired on seed, discriminator AUC per cycle",
    ),
    ("code", "analysis.vaal_ablation_table(runs)"),
    ("md", "## Sampling time per selection (same pool size, hardware named)"),
    ("code", "analysis.sampling_time_table(runs)"),
    (
        "code",
        'analysis.sampling_time_figure(runs, root=RESULTS, out=FIGURES / "sampling_time_table")',
    ),
    ("code", 'analysis.plot_sampling_time(runs, out=FIGURES / "sampling_time")'),
    (
        "md",
        "## Label efficiency\n\nLabels each strategy needs to reach random's mean at its last "
        "budget, interpolated linearly on the mean curve over seeds; ratio to random's labels.",
    ),
    ("code", 'analysis.label_efficiency(runs, baseline="random")'),
    (
        "code",
        'analysis.label_efficiency_figure(runs, root=RESULTS, out=FIGURES / "label_efficiency")',
    ),
    ("md", "## Demo: MNIST"),
    ("code", 'analysis.paper_figure(runs, ["MNIST"], root=RESULTS, out=FIGURES / "mnist_demo")'),
    (
        "md",
        "## Reproduction vs the paper, point by point\n\nEvery paper reference point (ImageNet: "
        "exact, from the authors' arrays; others: approximate, marked `~`): our mean ± 95% "
        "t-interval over seeds at that labeled percentage, the difference, and whether it lies "
        "within ±1 point.",
    ),
    ("code", "analysis.paper_table_display(analysis.paper_vs_reproduction(runs))"),
    (
        "md",
        "## One dataset under each protocol\n\n`--protocol paper|release|modern` runs land in "
        "`<experiment>@<protocol>`; set `PROTOCOL_DATASET` to the dataset to compare.",
    ),
    (
        "code",
        """PROTOCOL_DATASET = os.environ.get("PROTOCOL_DATASET", "cifar10")
analysis.protocol_figure(runs, PROTOCOL_DATASET, out=FIGURES / f"protocols_{PROTOCOL_DATASET}")""",
    ),
    ("code", "analysis.protocol_table(runs, PROTOCOL_DATASET)"),
    (
        "md",
        "## Exports\n\nTidy records (CSV; parquet when pyarrow is installed) and the summary "
        "tables as CSV, markdown and LaTeX booktabs, under `FIGURES_DIR/export`; the same as "
        "`python -m analysis export RESULTS --out DIR`.",
    ),
    (
        "code",
        """import importlib.util

if RESULTS.is_dir():
    has_pyarrow = importlib.util.find_spec("pyarrow") is not None
    for path in analysis.export(RESULTS, FIGURES / "export", parquet=has_pyarrow):
        print(path)
else:
    print(f"no results folder {RESULTS}: nothing to export (run `make demo` first)")""",
    ),
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
