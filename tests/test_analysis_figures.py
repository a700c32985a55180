"""The figure registry as a reviewer reads its output: no placeholder file, no empty panel, paper
names in every legend, one colour per meaning, units on every axis; and every analysis command
refusing a missing, empty or mistyped results folder the same way."""

from __future__ import annotations

import pandas as pd
import pytest
from matplotlib.colors import to_hex
from matplotlib.figure import Figure

import analysis
from analysis import style
from analysis.__main__ import main as cli
from analysis.subcommands import COMMANDS
from tests.analysis_fixtures import write_demo, write_everything, write_run


def _with_imagenet(root):
    """The fixture runs plus ImageNet runs, so the paper's ImageNet series (and the arrays the
    paper never names) are overlaid."""
    write_everything(root)
    write_run(root, "imagenet", "vaal", 0, [0.40, 0.45], dataset="imagenet", spec_hash="i" * 12)
    write_run(root, "imagenet", "random", 0, [0.40, 0.44], dataset="imagenet", spec_hash="i" * 12)
    return root


def _legend_texts(fig: Figure) -> list[str]:
    return [t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts()]


def _drawn_artists(ax) -> int:
    return len(ax.lines) + len(ax.collections) + len(ax.images) + len(ax.patches) + len(ax.tables)


@pytest.fixture(scope="module")
def drawn(tmp_path_factory):
    root = _with_imagenet(tmp_path_factory.mktemp("res"))
    df = analysis.load_runs(root)
    return df, root, analysis.draw_figures(df, root)


def test_every_panel_draws_data_and_names_its_units(drawn):
    _, _, figures = drawn
    assert {d.entry.name for d in figures if d.figures} >= {
        "classification",
        "segmentation",
        "curves",
        "ablation_noise",
        "ablation_vaal",
        "label_efficiency",
        "sampling_time",
        "vaal_diagnostics",
        "query_classes",
    }
    for d in figures:
        for stem, cap in d.figures.items():
            for ax in cap.figure.axes:
                assert ax.get_visible() and _drawn_artists(ax) > 0, stem
                assert not ax.texts, f"{stem}: a panel holding text instead of data"
                if stem == "sampling_time_table" or ax.get_label() == "<colorbar>":
                    continue
                for label in (ax.get_xlabel(), ax.get_ylabel()):
                    if label == "Strategy":  # a categorical axis: no unit
                        continue
                    name, _, unit = label.rpartition(" (")
                    assert name and unit.endswith(")") and len(unit) > 1, (stem, label)


def test_legends_use_the_papers_names_and_no_unnamed_series(drawn):
    _, _, figures = drawn
    texts = [t for d in figures for c in d.figures.values() for t in _legend_texts(c.figure)]
    assert "VAAL" in texts and "Random" in texts and "VAAL (paper)" in texts
    assert not [t for t in texts if "UNRESOLVED" in t or "(ours)" in t]
    (classification,) = [d for d in figures if d.entry.name == "classification"]
    caption = classification.figures["classification"].caption
    assert "ImageNet: the authors' result array 'emp' is left out" in caption


def test_no_colour_means_two_things():
    colours = [to_hex(c) for c in style.STRATEGY_COLORS.values()]
    colours += [to_hex(c) for c in style.MARKER_COLORS.values()]
    assert len(set(colours)) == len(colours)
    for name in style.STRATEGY_LABELS:
        assert "(ours)" not in style.strategy_label(name)
    assert style.strategy_label("vaal") == "VAAL"
    assert style.strategy_label("full") == "Top-line (100%)"


def test_a_plugin_strategy_is_named_and_coloured_by_its_class(monkeypatch):
    class Plugin:
        display_name = "My sampler"
        color = "#123456"

    class Bare:  # a class without the attributes: its name, a spare colour
        pass

    class Clash:  # a colour a built-in already means: a spare colour instead
        display_name = "Clash"
        color = style.STRATEGY_COLORS["vaal"]

    classes = {"mine": Plugin, "bare": Bare, "clash": Clash}
    monkeypatch.setattr(style, "_registered", classes.get)
    assert style.strategy_label("mine") == "My sampler"
    assert style.strategy_color("mine") == "#123456"
    assert style.strategy_label("bare") == "bare" and style.strategy_label("unknown") == "unknown"
    taken = {to_hex(c) for c in [*style.STRATEGY_COLORS.values(), *style.MARKER_COLORS.values()]}
    for name in ("bare", "clash", "unknown"):
        assert to_hex(style.strategy_color(name)) not in taken


def test_the_registry_lookup_finds_a_registered_strategy():
    cls = style._registered("coreset")
    assert cls is not None and cls.name == "coreset"
    assert style._registered("no_such_strategy") is None


def test_a_small_set_of_runs_writes_only_the_figures_it_allows(tmp_path):
    root = write_demo(tmp_path / "res", seeds=(0, 1))
    df = analysis.load_runs(root)
    drawn = analysis.draw_figures(df, root, tmp_path / "figs")
    written = sorted(p.name for p in (tmp_path / "figs").iterdir())
    stems = sorted({d_stem for d in drawn for d_stem in d.figures})
    assert stems == ["curves_mnist", "label_efficiency", "sampling_time", "sampling_time_table"]
    assert written == sorted(f"{s}.{e}" for s in stems for e in ("pdf", "png", "txt"))
    skipped = {d.entry.name: d.not_drawn for d in drawn if d.not_drawn}
    assert (
        "classification" in skipped and "run `make reproduce-cifar10`" in skipped["classification"]
    )
    assert "`make ablation-mnist_noise10`" in skipped["ablation_noise"]
    assert all(d.not_drawn or d.figures for d in drawn)


def test_one_file_name_per_figure_whoever_draws_it(tmp_path):
    root = write_demo(tmp_path / "res", seeds=(0, 1))
    analysis.report(root, out_dir=tmp_path / "report", verbose=False)
    df = analysis.load_runs(root)
    for entry in analysis.FIGURES:
        analysis.draw_figure(entry.name, df, root, tmp_path / "one_by_one")
    assert sorted(p.name for p in (tmp_path / "one_by_one").iterdir()) == sorted(
        p.name for p in (tmp_path / "report").iterdir() if p.name != "report.md"
    )


def test_captions_say_one_thread(tmp_path):
    env = {"device": "cpu", "processor": "Xeon", "num_threads": 1}
    for strategy in ("random", "vaal"):
        write_run(tmp_path, "e", strategy, 0, [0.5, 0.6, 0.7], env=env)
    cap = analysis.sampling_time_figure(analysis.load_runs(tmp_path)).caption
    assert "Xeon (1 thread)" in cap and "1 threads" not in cap


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_refuses_a_bad_results_folder_the_same_way(command, tmp_path, capsys):
    write_demo(tmp_path / "results", seeds=(0,))
    (tmp_path / "empty").mkdir()
    (tmp_path / "file").write_text("not a folder")
    extra = ["--out", str(tmp_path / "out")] if command in {"report", "figures", "export"} else []
    for folder in ("missing", "empty", "file", "reslts"):  # the last one: a typo of results
        assert cli([command, str(tmp_path / folder), *extra]) == 2, folder
        io = capsys.readouterr()
        lines = io.err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: results folder "), io.err
        assert str(tmp_path / folder) in lines[0] and "`make demo`" in lines[0]
        assert io.out == ""
    assert "(did you mean " + str(tmp_path / "results") + "?)" in lines[0]
    assert not (tmp_path / "out").exists()


def test_tables_are_in_percent(tmp_path):
    root = write_demo(tmp_path / "res")
    md = analysis.report(root, verbose=False)
    assert "| 300 | 30.0 | 90.40 ± 0.40 | 85.20 ± 0.20 |" in md
    exported = analysis.export(root, tmp_path / "out", parquet=False, note=lambda _: None)
    summary = pd.read_csv(next(p for p in exported if p.name == "summary.csv"))
    assert summary["mean"].between(50, 100).all() and set(summary["unit"]) == {"%"}
