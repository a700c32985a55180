"""Figures that say what they show: the pool and test set behind every curve's x axis,
dataset names in titles, bands inside their quantity's bounds, no empty table column, every
abbreviation defined where it appears."""

from __future__ import annotations

import numpy as np

import analysis
from analysis.curves import plot_curves
from analysis.diagnostic_figures import plot_query_classes, plot_vaal_diagnostics
from analysis.efficiency import label_efficiency_figure
from analysis.timing_figures import sampling_time_figure
from tests.analysis_fixtures import vaal_stats, write_demo, write_run

ENV = {"python": "3", "device": "cpu", "test_size": 500}


def _bands_y(ax) -> np.ndarray:
    """Every y of the shaded bands (fill_between polygons) of a panel."""
    ys = [p.vertices[:, 1] for c in ax.collections for p in c.get_paths() if len(p.vertices)]
    return np.concatenate(ys) if ys else np.empty(0)


def test_a_curve_names_its_pool_and_test_set_and_its_band_stays_within_0_and_100(tmp_path):
    # three seeds at or near 100%: the 95% t-interval of the last point would pass 100
    for seed, last in ((0, 1.0), (1, 1.0), (2, 0.98)):
        write_run(tmp_path, "demo_mnist", "random", seed, [0.9, 0.95, last], env=ENV)
    df = analysis.load_runs(tmp_path)
    ax = plot_curves(df).axes[0]
    assert ax.get_xlabel() == "Labeled data (% of the 1,000-image pool; 500 test images)"
    assert ax.get_title() == "MNIST (3 seeds)"
    ys = _bands_y(ax)
    assert len(ys) and ys.max() <= 100 and ys.min() >= 0


def test_the_active_units_band_never_goes_below_zero(tmp_path):
    units = {0: 0, 1: 0, 2: 12}  # mean 4, a t-interval reaching far below 0
    for seed, n in units.items():

        def extra(c, n=n):
            return {"query_stats": vaal_stats(c) | {"active_units": n}} if c < 2 else {}

        write_run(tmp_path, "demo_mnist", "vaal", seed, [0.7, 0.8, 0.85], extra=extra)
    fig = plot_vaal_diagnostics(analysis.load_runs(tmp_path))
    units_ax = [a for a in fig.axes if a.get_title().startswith("Active latent units")][0]
    ys = _bands_y(units_ax)
    assert len(ys) and ys.min() >= 0 and ys.max() <= 8  # the latent size of vaal_stats
    assert [t.get_text() for t in units_ax.get_legend().get_texts()][0] == "MNIST"


def test_label_efficiency_is_titled_by_dataset_with_seeds_and_draws_bands(tmp_path):
    write_demo(tmp_path)
    cap = label_efficiency_figure(analysis.load_runs(tmp_path))
    ax = cap.figure.axes[0]
    assert ax.get_title() == "MNIST (3 seeds)" and "demo_mnist" not in ax.get_title()
    assert ax.get_ylabel() == "Labels needed (images of the 1,000-image pool)"
    assert len(_bands_y(ax)) > 0 and "each seed's own curve" in cap.caption


def test_the_sampling_time_table_has_no_empty_column(tmp_path):
    write_demo(tmp_path)
    cap = sampling_time_figure(analysis.load_runs(tmp_path))
    (table,) = cap.figure.axes[0].tables
    cells = table.get_celld()
    ncols = 1 + max(c for _, c in cells)
    nrows = 1 + max(r for r, _ in cells)
    header = [cells[0, c].get_text().get_text() for c in range(ncols)]
    assert "of which training (s)" not in header  # no strategy reported training in its query
    for c in range(ncols):
        assert any(cells[r, c].get_text().get_text().strip() for r in range(1, nrows)), header[c]
    assert cells[1, 0].get_text().get_text() == "MNIST"


def test_tv_is_defined_where_it_appears(tmp_path):
    hist = {"random": [10] * 10, "vaal": [55] + [5] * 9}
    for strategy in hist:

        def extra(c, s=strategy):
            return {"selected_classes": hist[s] if c < 2 else None}

        write_run(tmp_path, "demo_mnist", strategy, 0, [0.7, 0.8, 0.85], extra=extra)
    fig = plot_query_classes(analysis.load_runs(tmp_path))
    titles = [a.get_title() for a in fig.axes if a.get_title()]
    assert titles and all("TV (total variation distance) from" in t for t in titles)
    assert all(t.startswith("MNIST: ") for t in titles)
