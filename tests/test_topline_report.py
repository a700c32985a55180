"""A top-line below an active learner is warned about, named and marked: the report names each
point and the likely cause read from the top-line's spec.yaml; the curve figure rings the point."""

from __future__ import annotations

import dataclasses

import yaml

import analysis
from analysis.curves import plot_curves, pool_axis_label
from analysis.report import build_report
from analysis.topline import ABOVE_TOPLINE_LABEL, topline_breaches, topline_warnings
from tests.analysis_fixtures import write_run
from tests.helpers import tiny_spec
from vaal_core.run.loop import ActiveLoop
from vaal_core.train.trainer import train_for_spec


def _demo_before_issue_35(root, topline: str = "same", top: float = 0.9711):
    """The demo as it was: MC-Dropout's 97.45 at 1,000 labels above a top-line of 300 steps."""
    task = {"iterations": 300, "batch_size": 64, "topline": topline}
    for seed in (0, 1):
        kw = dict(pool=10000, initial=200, budget=200)
        write_run(root, "demo_mnist", "random", seed, [0.9, 0.95, 0.96, 0.961, 0.962], **kw)
        write_run(root, "demo_mnist", "mc_dropout", seed, [0.9, 0.95, 0.96, 0.97, 0.9745], **kw)
        full = write_run(
            root, "demo_mnist", "full", seed, [top], cycles=1, **kw | {"initial": 10000}
        )
        spec = yaml.safe_load((full / "spec.yaml").read_text())
        (full / "spec.yaml").write_text(yaml.safe_dump(spec | {"task": task}))
    return root


def test_a_point_above_the_top_line_is_named_with_its_likely_cause(tmp_path):
    df = analysis.load_runs(_demo_before_issue_35(tmp_path))
    b = topline_breaches(df)
    assert list(zip(b["strategy"], b["n_labeled"], strict=True)) == [("mc_dropout", 1000)]
    (w,) = topline_warnings(df)
    assert "MC-Dropout at 1,000 labels (2 seeds) is 97.45%, above the top-line's 97.11%" in w
    assert "same 300 fixed steps" in w and "1.9 passes over its 10,000 images" in w
    assert "19.2 over the 1,000 labels" in w and "task.topline: passes" in w
    text = build_report(tmp_path, figures=False).text
    assert "## Points above the top-line" in text and f"warning: {w}" in text
    assert "`task.topline: same`: 300 steps of 64 (1.9 passes over the pool" in text
    # the figure rings the point, and only it
    ax = plot_curves(df).axes[0]
    (ring,) = [c for c in ax.collections if c.get_label() == ABOVE_TOPLINE_LABEL]
    assert ring.get_offsets().tolist() == [[10.0, 97.45]]


def test_no_warning_and_no_ring_when_the_top_line_is_above_every_point(tmp_path):
    df = analysis.load_runs(_demo_before_issue_35(tmp_path, "passes", top=0.985))
    assert topline_breaches(df).empty and not topline_warnings(df)
    text = build_report(tmp_path, figures=False).text
    assert "above the top-line" not in text
    assert "`task.topline: passes`: 3,000 steps of 64 (19.2 passes over the pool" in text
    ax = plot_curves(df).axes[0]
    assert not [c for c in ax.collections if c.get_label() == ABOVE_TOPLINE_LABEL]


def _few_steps(model, batches, labeled, spec, generator, val=None, progress=True):
    """A top-line made short on purpose: one optimiser step on the whole pool."""
    short = dataclasses.replace(spec, task=dataclasses.replace(spec.task, iterations=1))
    return train_for_spec(model, batches, labeled, short, generator, val, progress)


def test_a_top_line_of_very_few_steps_draws_the_warning_from_real_runs(tmp_path, mnist):
    spec = tiny_spec(task={"iterations": 40}, active={"initial": 40, "budget": 40, "cycles": 2})
    ActiveLoop(spec, "random", 0, tmp_path, data=mnist, progress=False).run()
    ActiveLoop(spec, "full", 0, tmp_path, data=mnist, progress=False, train_fn=_few_steps).run()
    df = analysis.load_runs(tmp_path)
    warned = topline_warnings(df)
    assert warned and all("Random at" in w and "above the top-line" in w for w in warned)
    assert pool_axis_label(df) == "Labeled data (% of the 600-image pool; 500 test images)"
