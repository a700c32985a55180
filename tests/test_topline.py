"""The full-data top-line (`strategy: full`): one cycle on every candidate, drawn as a dashed line."""

from __future__ import annotations

import math

import numpy as np

from analysis import load_runs, plot_curves, summarize
from tests.helpers import tiny_spec
from vaal_core.run.loop import ActiveLoop
from vaal_core.run.rundir import RunDir


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


def _spy_trainer(seen: list):
    """The real trainer, noting the task recipe and the steps it ran."""
    from vaal_core.train.trainer import train_for_spec

    def train(model, batches, labeled, spec, generator, val=None, progress=True):
        model, stats = train_for_spec(model, batches, labeled, spec, generator, val, progress)
        seen.append((len(labeled), spec.task.iterations, stats.steps))
        return model, stats

    return train


def test_passes_gives_the_whole_pool_the_passes_of_the_largest_labeled_set(tmp_path, mnist):
    from vaal_core.train.topline import topline_steps

    spec = tiny_spec(task={"topline": "passes"}, active={"initial": 40, "budget": 40, "cycles": 3})
    seen = []
    ActiveLoop(
        spec, "full", 0, tmp_path, data=mnist, progress=False, train_fn=_spy_trainer(seen)
    ).run()
    # 8 steps of 32 over the 120 labels of the last cycle: 2.13 passes; over 600 images 40 steps
    want = math.ceil(8 * 600 / 120)
    assert seen == [(600, want, want)]
    assert topline_steps(spec, 600, 0, 60000) == want
    # the random run keeps the recipe as written, every cycle
    seen.clear()
    ActiveLoop(
        spec, "random", 0, tmp_path, data=mnist, progress=False, train_fn=_spy_trainer(seen)
    ).run()
    assert [s[1:] for s in seen] == [(8, 8)] * 3


def test_same_keeps_the_recipe_as_written_for_the_whole_pool(tmp_path, mnist):
    spec = tiny_spec(active={"initial": 40, "budget": 40, "cycles": 3})
    assert spec.task.topline == "same" and "topline" not in spec.to_dict()["task"]
    seen = []
    ActiveLoop(
        spec, "full", 0, tmp_path, data=mnist, progress=False, train_fn=_spy_trainer(seen)
    ).run()
    assert seen == [(600, 8, 8)]


def test_epoch_recipes_give_the_top_line_the_labeled_sets_passes():
    from vaal_core.train.topline import topline_steps

    # epochs over the labeled set already are passes: 3 epochs of the 600-image pool
    spec = tiny_spec(task={"topline": "passes", "iterations": None, "epochs": 3})
    assert topline_steps(spec, 600, 0, 60000) == 3 * math.ceil(600 / 32)
    # the release's train-set epochs: 60000 x 3 // 32 steps for the 120 labels of the last cycle
    spec = tiny_spec(
        task={"topline": "passes", "iterations": None, "epochs": 3, "epoch_basis": "train_set"}
    )
    assert topline_steps(spec, 600, 0, 60000) == math.ceil(60000 * 3 // 32 * 600 / 120)


def test_an_unknown_top_line_rule_is_one_error_line():
    import pytest

    from vaal_core.errors import SpecError

    with pytest.raises(SpecError, match="task.topline"):
        tiny_spec(task={"topline": "longer"})
