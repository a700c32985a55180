"""One dataset under several protocols: separate result directories, one side-by-side table/figure."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from analysis import ablation_kind, load_runs
from analysis.canvas import NoFigure
from analysis.protocol_compare import protocol_figure, protocol_table
from tests.analysis_fixtures import write_run
from tests.helpers import TINY_OVERRIDES
from vaal_core.run.loop import ActiveLoop, run_dir_for
from vaal_core.spec import load_spec

REPO = Path(__file__).resolve().parent.parent
CIFAR100 = REPO / "experiments/cifar100.yaml"


def test_another_protocol_than_the_files_gets_its_own_experiment_name():
    own = load_spec(CIFAR100)
    assert own.experiment == "cifar100" and own.protocol.name == "paper"
    same = load_spec(CIFAR100, protocol="paper")  # the file's own protocol: nothing changes
    assert same.experiment == "cifar100" and same.hash() == own.hash()
    release = load_spec(CIFAR100, protocol="release")
    assert release.experiment == "cifar100@release" and release.protocol.name == "release"
    assert run_dir_for(Path("r"), release, "vaal", 0) == Path("r/cifar100@release/vaal/seed-0")
    assert load_spec(CIFAR100, ["protocol.name=modern"]).experiment == "cifar100@modern"
    demo = load_spec(REPO / "experiments/mnist.yaml", protocol="standard")  # its own (implicit)
    assert demo.experiment == "demo_mnist"
    # ablation specs name their protocol values without a preset: still their own protocol
    noise = load_spec(REPO / "experiments/ablations/mnist_noise10.yaml")
    assert noise.experiment == "ablation_noise10_mnist"
    assert ablation_kind("ablation_noise10_cifar100@release", "cifar100") == "noise10"


def test_two_protocols_of_one_spec_share_a_results_root(tmp_path, mnist):
    """Before `@<protocol>`, the second run hit the first one's directory (another spec hash)."""
    tiny = [*TINY_OVERRIDES, "active.cycles=2"]
    spec = REPO / "experiments/mnist.yaml"
    for protocol in (None, "release"):
        s = load_spec(spec, tiny, protocol=protocol)
        ActiveLoop(s, "random", 0, tmp_path, progress=False, data=mnist).run()
    assert (tmp_path / "tiny/random/seed-0/cycles.jsonl").is_file()
    assert (tmp_path / "tiny@release/random/seed-0/cycles.jsonl").is_file()
    df = load_runs(tmp_path)
    pairs = set(zip(df["experiment"], df["protocol"], strict=True))
    assert pairs == {("tiny", "standard"), ("tiny@release", "release")}
    assert df["ablation"].isna().all()
    table = protocol_table(df, "mnist")
    assert list(table["protocol"]) == ["release", "standard"]
    assert (table["seeds"] == 1).all() and (table["final labeled"] == 80).all()


def _runs(root: Path) -> None:
    """MNIST-like runs under two protocols; under `modern` VAAL's AUBC gap to random is +5 pts."""
    for protocol, gap in (("paper", 0.0), ("modern", 0.05)):
        name = "mnist" if protocol == "paper" else "mnist@modern"
        for seed in (0, 1, 2):
            j = 0.01 * seed
            write_run(
                root,
                name,
                "random",
                seed,
                [0.5 + j, 0.6 + j, 0.7 + j],
                protocol=protocol,
                spec_hash=protocol[:2] * 6,
            )
            write_run(
                root,
                name,
                "vaal",
                seed,
                [0.5 + j + gap, 0.6 + j + gap, 0.7 + j + gap],
                protocol=protocol,
                spec_hash=protocol[:2] * 6,
            )
    write_run(root, "ablation_noise10_mnist", "vaal", 0, [0.1, 0.1, 0.1], spec_hash="n" * 12)


def test_protocol_table_sets_protocols_side_by_side(tmp_path):
    _runs(tmp_path)
    table = protocol_table(load_runs(tmp_path), "MNIST")
    assert list(table["protocol"]) == ["paper", "paper", "modern", "modern"]  # preset order
    assert set(table["strategy"]) == {"random", "vaal"}
    gap = table.set_index(["protocol", "strategy"])["AUBC − random (pts)"]
    assert gap[("modern", "vaal")] == "+5.00 ± 0.00" and gap[("paper", "vaal")] == "+0.00 ± 0.00"
    assert gap[("paper", "random")] == "—"  # the baseline has no gap to itself
    aubc = table.set_index(["protocol", "strategy"])["AUBC (%)"]
    assert aubc[("paper", "random")] == "61.00 ± 1.00"  # mean of 0.6 + 0.01 * seed
    assert (table["seeds"] == 3).all()  # the ablation run is left out


def test_protocol_figure_one_panel_per_protocol_shared_axis(tmp_path):
    _runs(tmp_path)
    fig = protocol_figure(load_runs(tmp_path), "mnist", out=tmp_path / "fig")
    panels = fig.axes  # one per protocol with runs, no hidden or empty panel
    titles = sorted(ax.get_title() for ax in panels)
    assert len(panels) == 2
    assert "protocol modern" in titles[0] and "protocol paper" in titles[1]
    assert np.allclose(panels[0].get_ylim(), panels[1].get_ylim())
    assert (tmp_path / "fig.png").is_file()


def test_protocol_views_without_runs_say_so(tmp_path):
    df = load_runs(tmp_path, allow_empty=True)
    assert protocol_table(df, "cifar100").empty
    with pytest.raises(NoFigure, match="CIFAR100: no runs under any protocol: run one spec"):
        protocol_figure(df, "cifar100")
