"""The full-data top-line (`strategy: full`): one cycle on every candidate, drawn as a dashed line."""

from __future__ import annotations

import numpy as np

from analysis import load_runs, plot_curves, summarize
from tests.helpers import tiny_spec
from vaal_core.loop import ActiveLoop
from vaal_core.rundir import RunDir


def test_full_trains_once_on_the_whole_pool_and_is_drawn_as_the_top_line(tmp_path, mnist):
    spec = tiny_spec(active={"initial": 40, "budget": 40, "cycles": 2})
    out = tmp_path / "res"
    full = ActiveLoop(spec, "full", 0, out, data=mnist, progress=False).run()
    assert len(full) == 1 and full[0]["cycle"] == 0 and full[0]["n_selected"] == 0
    assert full[0]["n_labeled"] == spec.dataset.pool_size and full[0]["fraction"] == 1.0
    pool = RunDir(out / "tiny" / "full" / "seed-0").load_pool(0)
    assert len(pool) == spec.dataset.pool_size and len(np.unique(pool)) == len(pool)
    # a second start finds the run complete (one cycle), not one cycle short of active.cycles
    assert ActiveLoop(spec, "full", 0, out, data=mnist, progress=False).run() == full

    ActiveLoop(spec, "random", 0, out, data=mnist, progress=False).run()
    df = load_runs(out)
    assert df.loc[df["strategy"] == "full", "complete"].all()
    ax = plot_curves(df).axes[0]
    dashed = [ln for ln in ax.lines if ln.get_linestyle() == "--"]
    assert len(dashed) == 1 and np.allclose(dashed[0].get_ydata(), 100 * full[0]["value"])
    # the curves' x axis stays on the active-learning budgets, not stretched to 100%
    assert max(ax.get_xlim()) < 50
    assert set(summarize(df)["strategy"]) >= {"random"}


def test_the_top_line_has_no_area_under_the_budget_curve(tmp_path, mnist):
    from analysis.export import aubc_table

    spec = tiny_spec(active={"initial": 40, "budget": 40, "cycles": 2})
    for strategy in ("full", "random"):
        ActiveLoop(spec, strategy, 0, tmp_path, data=mnist, progress=False).run()
    assert list(aubc_table(load_runs(tmp_path))["strategy"]) == ["random"]
