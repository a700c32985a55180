"""Every figure function in one import, for code that reads `analysis.plotting.<name>`.

The figures live in small modules: `style` (names and colours), `canvas` (bands, legends,
captions, files), `curves`, `ablation_figures`, `timing_figures`, `diagnostic_figures`,
`efficiency` and `protocol_compare`; `figures` lists them all for the report and the notebook.
"""

from __future__ import annotations

from .ablation_figures import ablation_figure
from .canvas import Captioned, NoFigure, save_figure, unhealthy_count
from .curves import paper_figure, plot_curves
from .diagnostic_figures import plot_query_classes, plot_vaal_diagnostics
from .style import (
    DATASET_NAMES,
    STRATEGY_COLORS,
    STRATEGY_LABELS,
    dataset_name,
    strategy_color,
    strategy_label,
)
from .timing_figures import plot_sampling_time, sampling_time_figure

__all__ = [
    "Captioned",
    "NoFigure",
    "STRATEGY_LABELS",
    "STRATEGY_COLORS",
    "DATASET_NAMES",
    "strategy_label",
    "strategy_color",
    "dataset_name",
    "save_figure",
    "plot_curves",
    "plot_sampling_time",
    "paper_figure",
    "ablation_figure",
    "sampling_time_figure",
    "plot_vaal_diagnostics",
    "plot_query_classes",
    "unhealthy_count",
]
