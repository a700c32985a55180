"""Analysis of VAAL reproduction runs: load the cycle logs, test strategies against each other
over seeds, compare with the paper's numbers and draw the paper's figures.

Entry points: `load_runs`, `summarize`, `aubc`, `compare`, `verdicts`, `win_tie_loss`,
`load_reference`, the `plot_*` functions, `report`, and `python -m analysis report ROOT`.
"""

from .plotting import (
    STRATEGY_COLORS,
    STRATEGY_LABELS,
    paper_figure,
    plot_ablation,
    plot_curves,
    plot_sampling_time,
    save_figure,
    strategy_color,
    strategy_label,
)
from .reference import dataset_key, load_reference, load_reference_raw
from .report import markdown_table, report
from .runs import RunLogError, load_runs
from .stats import (
    aubc,
    aubc_summary,
    compare,
    holm,
    paired_test,
    summarize,
    verdicts,
    win_tie_loss,
)

__all__ = [
    "RunLogError",
    "STRATEGY_COLORS",
    "STRATEGY_LABELS",
    "aubc",
    "aubc_summary",
    "compare",
    "dataset_key",
    "holm",
    "load_reference",
    "load_reference_raw",
    "load_runs",
    "markdown_table",
    "paired_test",
    "paper_figure",
    "plot_ablation",
    "plot_curves",
    "plot_sampling_time",
    "report",
    "save_figure",
    "strategy_color",
    "strategy_label",
    "summarize",
    "verdicts",
    "win_tie_loss",
]
