"""Analysis of VAAL reproduction runs: load the cycle logs, test strategies against each other
over seeds, compare with the paper's numbers and draw the paper's figures.

Entry points: `load_runs`, `summarize`, `aubc`, `compare`, `verdicts`, `win_tie_loss`,
`load_reference`, `export`, `paper_vs_reproduction`, the `plot_*` and `*_figure` functions,
`FIGURES` (every figure, for the report and the notebook) with `draw_figure`, `chance_warnings`,
`report`, and `python -m analysis report|figures|export|paper-table RESULTS`.
"""

from .ablation_figures import ablation_figure
from .ablations import vaal_ablation_table
from .canvas import Captioned, NoFigure, save_figure
from .curves import paper_figure, plot_curves
from .diagnostic_figures import plot_query_classes, plot_vaal_diagnostics
from .efficiency import label_efficiency, label_efficiency_figure, labels_to_reach
from .expected import ABLATION_FAMILIES, PAPER_FIGURES
from .export import export, tidy_records
from .figures import FIGURES, Drawn, FigureEntry, draw_figure, draw_figures, figure_entry
from .folder import ResultsFolderError, results_folder
from .health import health_warnings, unhealthy_cycles
from .paper_table import paper_table_display, paper_vs_reproduction
from .protocol_compare import protocol_figure, protocol_table
from .queries import chance_cycles, chance_warnings, class_bias, class_shares
from .reference import dataset_key, load_reference, load_reference_raw
from .report import build_report, markdown_table, report
from .runs import RunLogError, ablation_kind, load_runs
from .specs import dataset_command, dataset_strategies, shipped_specs
from .stats import (
    aubc,
    aubc_diffs,
    aubc_summary,
    band,
    band_label,
    common_grid,
    compare,
    holm,
    paired_test,
    shared_budgets,
    summarize,
    training_noise,
    verdicts,
    wilcoxon_floor,
    win_tie_loss,
)
from .style import STRATEGY_COLORS, STRATEGY_LABELS, dataset_name, strategy_color, strategy_label
from .timing import sampling_time_table
from .timing_figures import plot_sampling_time, sampling_time_figure

__all__ = [
    "export",
    "paper_table_display",
    "paper_vs_reproduction",
    "protocol_figure",
    "protocol_table",
    "tidy_records",
    "ABLATION_FAMILIES",
    "Captioned",
    "PAPER_FIGURES",
    "RunLogError",
    "ablation_figure",
    "ablation_kind",
    "band",
    "band_label",
    "chance_cycles",
    "chance_warnings",
    "class_bias",
    "class_shares",
    "plot_query_classes",
    "plot_vaal_diagnostics",
    "sampling_time_figure",
    "sampling_time_table",
    "wilcoxon_floor",
    "vaal_ablation_table",
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
__all__ += [
    "Drawn",
    "FIGURES",
    "FigureEntry",
    "NoFigure",
    "ResultsFolderError",
    "build_report",
    "dataset_name",
    "draw_figure",
    "draw_figures",
    "figure_entry",
    "results_folder",
    "aubc_diffs",
    "common_grid",
    "dataset_command",
    "dataset_strategies",
    "health_warnings",
    "label_efficiency",
    "label_efficiency_figure",
    "labels_to_reach",
    "shared_budgets",
    "shipped_specs",
    "training_noise",
    "unhealthy_cycles",
]
