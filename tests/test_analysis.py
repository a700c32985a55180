"""analysis on hand-written run logs: loading, statistics checked by hand/scipy, figures, report."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from scipy import stats

import analysis
from analysis.__main__ import main as cli
from analysis.runs import COLUMNS
from tests.analysis_fixtures import record, vaal_stats, write_demo, write_everything, write_run


# --- loading ---------------------------------------------------------------------------------
def test_load_runs_is_tidy(tmp_path):
    write_demo(tmp_path)
    df = analysis.load_runs(tmp_path)
    assert set(COLUMNS) <= set(df.columns)
    assert len(df) == 2 * 3 * 3
    assert df["complete"].all() and (df["expected_cycles"] == 3).all()
    run = df[(df["strategy"] == "vaal") & (df["seed"] == 1)]
    assert run["cycle"].tolist() == [0, 1, 2]
    assert run["fraction"].tolist() == pytest.approx([0.1, 0.2, 0.3])
    assert run["run_dir"].iloc[0] == str(tmp_path / "demo_mnist" / "vaal" / "seed-1")


def test_query_stats_flattened_histograms_kept_ablation_parsed(tmp_path):
    write_everything(tmp_path)
    write_run(tmp_path, "old", "random", 0, [0.5, 0.6])  # no query_stats / selected_classes
    df = analysis.load_runs(tmp_path)
    vaal = df[(df["experiment"] == "demo_mnist") & (df["strategy"] == "vaal") & (df["seed"] == 0)]
    assert vaal["qs_disc_auc"].tolist()[:2] == [0.52, 0.80] and np.isnan(
        vaal["qs_disc_auc"].iloc[2]
    )
    assert vaal["qs_active_units"].tolist()[:2] == [4, 5]
    assert (
        vaal["selected_classes"].iloc[0] == [55] + [5] * 9
        and vaal["selected_classes"].iloc[2] is None
    )
    kinds = df.drop_duplicates("experiment").set_index("experiment")["ablation"]
    assert (
        kinds["ablation_budget_small_mnist"] == "budget_small"
        and kinds["ablation_noadv_mnist"] == "noadv"
    )
    assert kinds[["demo_mnist", "cifar10"]].isna().all()  # protocols are not ablations
    assert analysis.ablation_kind("ablation_noise10_cifar10", "CIFAR-10") == "noise10"
    assert analysis.ablation_kind("ablation_klmean", "mnist") == "klmean"
    assert analysis.ablation_kind("cifar10_paper", "cifar10") is None


def test_truncated_last_line_dropped_flagged_and_warned(tmp_path):
    write_run(tmp_path, "e", "random", 0, [0.5, 0.6], cycles=3, tail='{"cycle": 2, "val')
    with pytest.warns(UserWarning, match=r"cycles\.jsonl:3: last line is cut off"):
        df = analysis.load_runs(tmp_path)
    assert len(df) == 2 and not df["complete"].any()


def test_last_line_without_newline_but_whole_is_kept(tmp_path):
    last = json.dumps(record("e", "random", 0, 1, 0.6, cycles=2))
    write_run(tmp_path, "e", "random", 0, [0.5], cycles=2, tail=last)
    df = analysis.load_runs(tmp_path)
    assert len(df) == 2 and df["complete"].all()


def test_partial_run_kept_without_warning(tmp_path):
    write_run(tmp_path, "e", "random", 0, [0.5, 0.6], cycles=4)
    df = analysis.load_runs(tmp_path)
    assert len(df) == 2 and not df["complete"].any()
    assert (df["expected_cycles"] == 4).all()


def test_corrupt_middle_line_names_file_and_line(tmp_path):
    run = write_run(tmp_path, "e", "random", 0, [0.5, 0.6, 0.7])
    lines = (run / "cycles.jsonl").read_text().splitlines(keepends=True)
    lines[1] = '{"cycle": 1, garbage\n'
    (run / "cycles.jsonl").write_text("".join(lines))
    with pytest.raises(analysis.RunLogError, match=rf"{run / 'cycles.jsonl'}:2: corrupt record"):
        analysis.load_runs(tmp_path)


def test_mixed_spec_hashes_name_both_runs(tmp_path):
    a = write_run(tmp_path, "e", "random", 0, [0.5], spec_hash="aaaaaaaaaaaa")
    b = write_run(tmp_path, "e", "vaal", 0, [0.5], spec_hash="bbbbbbbbbbbb")
    with pytest.raises(analysis.RunLogError, match="mixes specs") as err:
        analysis.load_runs(tmp_path)
    assert str(a) in str(err.value) and str(b) in str(err.value)


def test_same_seed_twice_is_an_error(tmp_path):
    write_run(tmp_path / "x", "e", "random", 0, [0.5])
    write_run(tmp_path / "y", "e", "random", 0, [0.5])
    with pytest.raises(analysis.RunLogError, match="seed 0"):
        analysis.load_runs(tmp_path)


def test_empty_root_says_how_to_make_runs(tmp_path):
    for root in (tmp_path, tmp_path / "missing"):
        with pytest.raises(analysis.RunLogError, match="make demo"):
            analysis.load_runs(root)
    empty = analysis.load_runs(tmp_path, allow_empty=True)
    assert empty.empty and set(COLUMNS) <= set(empty.columns)


# --- statistics --------------------------------------------------------------------------------
def test_summarize_matches_scipy(tmp_path):
    values = {0: [0.50, 0.61], 1: [0.52, 0.66], 2: [0.55, 0.62]}
    for seed, v in values.items():
        write_run(tmp_path, "e", "random", seed, v)
    write_run(tmp_path, "e", "vaal", 0, [0.5, 0.7])
    s = analysis.summarize(analysis.load_runs(tmp_path)).set_index(["strategy", "n_labeled"])
    x = np.array([v[1] for v in values.values()])
    row = s.loc[("random", 200)]
    lo, hi = stats.t.interval(0.95, df=len(x) - 1, loc=x.mean(), scale=stats.sem(x))
    assert row["mean"] == pytest.approx(x.mean())
    assert row["std"] == pytest.approx(x.std(ddof=1))
    assert row["ci95"] == pytest.approx((hi - lo) / 2)
    assert row["n_seeds"] == 3 and row["fraction"] == pytest.approx(0.2)
    single = s.loc[("vaal", 200)]
    assert single["n_seeds"] == 1 and math.isnan(single["std"]) and math.isnan(single["ci95"])


def test_aubc_of_known_curves(tmp_path):
    write_run(
        tmp_path, "e", "random", 0, [0.1, 0.2, 0.3]
    )  # value = fraction: mean over [.1,.3] = .2
    write_run(tmp_path, "e", "random", 1, [0.0, 1.0, 0.0])  # a tent: area .1 over span .2
    write_run(tmp_path, "e", "vaal", 0, [0.4, 0.4], cycles=3)  # partial: excluded from the summary
    df = analysis.load_runs(tmp_path)
    per_run = analysis.aubc(df).set_index(["strategy", "seed"])["aubc"]
    assert per_run[("random", 0)] == pytest.approx(0.2)
    assert per_run[("random", 1)] == pytest.approx(0.5)
    summary = analysis.aubc_summary(df).set_index("strategy")
    assert list(summary.index) == ["random"]
    assert summary.loc["random", "mean"] == pytest.approx(0.35)
    assert summary.loc["random", "std"] == pytest.approx(np.std([0.2, 0.5], ddof=1))


def test_holm_against_hand_computation():
    # sorted: .005*4=.02, .01*3=.03, .03*2=.06, .04*1=.04 -> running max .02 .03 .06 .06
    assert analysis.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    out = analysis.holm([0.02, np.nan, 0.04])  # NaN is not part of the family: m = 2
    assert out[[0, 2]] == pytest.approx([0.04, 0.04]) and np.isnan(out[1])
    assert analysis.holm([0.5, 0.6]) == pytest.approx([1.0, 1.0])
    assert np.isnan(analysis.holm([np.nan])).all()


def _four_seed_runs(tmp_path):
    rng = np.random.default_rng(0)
    base = {k: rng.normal([0.6, 0.7, 0.8], 0.01) for k in range(4)}
    vaal = {k: base[k] + [0.0, 0.03, 0.01] + rng.normal(0, 0.01, 3) for k in range(4)}
    vaal = {k: np.r_[base[k][0], v[1:]] for k, v in vaal.items()}  # same start: no test at cycle 0
    for k in range(4):
        write_run(tmp_path, "e", "random", k, base[k].tolist())
        write_run(tmp_path, "e", "vaal", k, vaal[k].tolist())
    return np.array(list(base.values())), np.array(list(vaal.values()))


def test_compare_matches_scipy_and_holm(tmp_path):
    base, vaal = _four_seed_runs(tmp_path)
    cmp = analysis.compare(analysis.load_runs(tmp_path)).set_index("n_labeled")
    assert list(cmp.index) == [100, 200, 300] and (cmp["n_pairs"] == 4).all()
    assert np.isnan(cmp.loc[100, "p_ttest"]) and np.isnan(cmp.loc[100, "p_holm"])
    p = []
    for col, n in ((1, 200), (2, 300)):
        d = vaal[:, col] - base[:, col]
        t = stats.ttest_rel(vaal[:, col], base[:, col])
        assert cmp.loc[n, "p_ttest"] == pytest.approx(t.pvalue)
        assert cmp.loc[n, "p_wilcoxon"] == pytest.approx(stats.wilcoxon(d).pvalue)
        assert cmp.loc[n, "mean_diff"] == pytest.approx(d.mean())
        assert cmp.loc[n, "cohen_d"] == pytest.approx(d.mean() / d.std(ddof=1))
        p.append(t.pvalue)
    lo, hi = sorted(p)
    expect = {min(p): 2 * lo, max(p): max(2 * lo, hi)}
    assert cmp.loc[[200, 300], "p_holm"].tolist() == pytest.approx([min(1, expect[x]) for x in p])


def test_single_seed_gives_na_and_says_so(tmp_path):
    write_run(tmp_path, "e", "random", 0, [0.5, 0.6])
    write_run(tmp_path, "e", "vaal", 0, [0.5, 0.7])
    df = analysis.load_runs(tmp_path)
    assert analysis.compare(df)["p_ttest"].isna().all()
    (verdict,) = analysis.verdicts(df)["verdict"]
    assert "too few paired seeds (n=1)" in verdict and "by construction" in verdict


def test_verdict_counts_wins_and_aubc(tmp_path):
    write_demo(tmp_path)
    v = analysis.verdicts(analysis.load_runs(tmp_path)).iloc[0]
    # AUBC gap per seed 0.0325 - 0.75 j with j = 0, .002, .004: mean 3.1 points
    assert v["verdict"].startswith("vaal beats random at 2/2 budgets (Holm p<0.05), AUBC +3.1 pts")
    assert v["aubc_diff"] == pytest.approx(3.1)


def test_band_rule_std_below_three_seeds_t_interval_from_three():
    m, lo, hi, kind = analysis.band([0.5, 0.7])
    assert kind == "std" and (lo, hi) == pytest.approx(
        (0.6 - np.std([0.5, 0.7], ddof=1), 0.6 + np.std([0.5, 0.7], ddof=1))
    )
    x = np.array([0.5, 0.7, 0.6])
    m, lo, hi, kind = analysis.band(x)
    assert kind == "t95"
    assert (lo, hi) == pytest.approx(stats.t.interval(0.95, 2, loc=x.mean(), scale=stats.sem(x)))
    assert analysis.band([0.5])[3] == "none"
    assert analysis.band_label(2) == "band: ±1 std over 2 seeds"
    assert analysis.band_label(3) == "band: 95% t-interval over 3 seeds"
    assert analysis.band_label([5, 5, 3]) == "band: 95% t-interval over 3-5 seeds"
    assert analysis.band_label([2, 4]) == "band: ±1 std over 2 seeds; 95% t-interval over 4 seeds"


def test_band_label_in_figure_legend(tmp_path):
    for seed in (0, 1):
        write_run(tmp_path / "two", "e", "random", seed, [0.5, 0.6 + seed / 10])
    write_demo(tmp_path / "three")
    cases = [
        ("two", "band: ±1 std over 2 seeds", "std"),
        ("three", "band: 95% t-interval over 3 seeds", "t95"),
    ]
    for root, label, kind in cases:
        df = analysis.load_runs(tmp_path / root)
        assert label in _legend_texts(analysis.plot_curves(df))
        assert set(analysis.summarize(df)["band_kind"]) == {kind}


def test_wilcoxon_floor_is_the_exact_minimum():
    for n in (2, 5, 6):
        d = np.arange(1.0, n + 1)  # every difference positive: the most extreme signed-rank sum
        assert stats.wilcoxon(d, method="exact").pvalue == pytest.approx(analysis.wilcoxon_floor(n))
    assert analysis.wilcoxon_floor(5) == 0.0625


def _seeded_pairs(tmp_path, n: int) -> None:
    rng = np.random.default_rng(n)
    for k in range(n):
        base = rng.normal([0.6, 0.7, 0.8], 0.01)
        write_run(tmp_path, "e", "random", k, base.tolist())
        write_run(
            tmp_path, "e", "vaal", k, (base + [0.0, 0.05, 0.05] + rng.normal(0, 0.005, 3)).tolist()
        )


def test_verdict_says_when_wilcoxon_cannot_reach_significance(tmp_path):
    _seeded_pairs(tmp_path / "five", 5)
    v = analysis.verdicts(analysis.load_runs(tmp_path / "five")).iloc[0]
    assert "Wilcoxon signed-rank cannot reach p<0.05 with n=5 pairs" in v["verdict"]
    assert "2/2^5 = 0.0625" in v["verdict"] and v["wilcoxon_floor"] == 0.0625
    # floor 0.03125 < .05; Holm over 2 budgets (cycle 0 shares its labeled set): 0.0625
    _seeded_pairs(tmp_path / "six", 6)
    v = analysis.verdicts(analysis.load_runs(tmp_path / "six")).iloc[0]
    assert (
        "Holm-adjusted Wilcoxon cannot reach p<0.05 over 2 budgets with n=6 pairs" in v["verdict"]
    )
    _seeded_pairs(tmp_path / "seven", 7)
    assert (
        "cannot reach"
        not in analysis.verdicts(analysis.load_runs(tmp_path / "seven"))["verdict"].iloc[0]
    )


def test_win_tie_loss_constructed(tmp_path):
    rng = np.random.default_rng(1)
    for k in range(5):
        base = rng.normal([0.6, 0.7, 0.8], 0.01)
        write_run(tmp_path, "e", "random", k, base.tolist())
        write_run(tmp_path, "e", "coreset", k, base.tolist())  # identical: a tie everywhere
        write_run(tmp_path, "e", "vaal", k, (base + 0.05 + rng.normal(0, 0.005, 3)).tolist())
    wtl = analysis.win_tie_loss(analysis.load_runs(tmp_path))
    # cycle 0 (one labeled set for all) is no test: 2 budgets won, Holm over 4 tests
    assert wtl.loc["vaal", "random"] == 2 and wtl.loc["vaal", "coreset"] == 2
    assert wtl.attrs["comparisons"] == 4
    assert wtl.loc["random", "vaal"] == 0 and wtl.loc["coreset", "vaal"] == 0
    assert wtl.loc["random", "coreset"] == 0 and wtl.loc["coreset", "random"] == 0


# --- reference data ------------------------------------------------------------------------------
def test_reference_shipped_with_provenance():
    ref = analysis.load_reference()
    assert {"dataset", "method", "labeled_percent", "metric", "mean", "std"} <= set(ref.columns)
    assert ref["source"].notna().all() and ref["verification_status"].notna().all()
    imagenet = analysis.load_reference("imagenet")
    vaal30 = imagenet[(imagenet["method"] == "VAAL") & (imagenet["labeled_percent"] == 30)]
    assert vaal30["mean"].tolist() == [53.307]
    assert imagenet["verification_status"].str.startswith("exact").all()
    assert len(analysis.load_reference("caltech-256")) == 0
    raw = analysis.load_reference_raw()
    assert len(raw) == 59 and raw["source"].notna().all()


# --- figures and report ----------------------------------------------------------------------------
def _assert_written(stem):
    for ext in (".png", ".pdf"):
        path = stem.parent / f"{stem.name}{ext}"
        assert path.stat().st_size > 0, path


def _legend_texts(fig: Figure) -> list[str]:
    return [t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts()]


def test_every_figure_function_writes_png_and_pdf(tmp_path):
    root = write_everything(tmp_path / "res")
    write_run(root, "imagenet", "vaal", 0, [0.40, 0.45], dataset="imagenet", spec_hash="i" * 12)
    write_run(root, "imagenet", "full", 0, [0.7], dataset="imagenet", pool=100, spec_hash="j" * 12)
    df = analysis.load_runs(root)
    figs = {  # saving is slow on a loaded CPU: write two, the notebook test writes them all
        "curves": analysis.plot_curves(df, analysis.load_reference(), out=tmp_path / "c.png"),
        "time": analysis.plot_sampling_time(df),
        "vaal": analysis.plot_vaal_diagnostics(df),
        "classes": analysis.plot_query_classes(df),
    }
    captioned = {
        "paper": analysis.paper_figure(df, "classification", root="R", out=tmp_path / "paper"),
        "seg": analysis.paper_figure(df, "segmentation", root="R"),
        "table": analysis.sampling_time_figure(df, root="R"),
        **{f"abl_{f}": analysis.ablation_figure(df, f) for f in analysis.ABLATION_FAMILIES},
    }
    for name, fig in figs.items():
        assert isinstance(fig, Figure), name
    for name, cap in captioned.items():
        assert isinstance(cap.figure, Figure) and cap.caption, name
    for stem in ("c", "paper"):
        _assert_written(tmp_path / stem)
    assert (tmp_path / "paper.txt").read_text().strip() == captioned["paper"].caption
    assert "VAAL (paper)" in _legend_texts(captioned["paper"].figure)  # ImageNet overlay
    vaal_legend = _legend_texts(figs["vaal"])
    assert "chance: 0.5 ± 95% band" in vaal_legend
    assert "band: 95% t-interval over 3 seeds" in vaal_legend  # the demo's 3 VAAL seeds
    (chance,) = [c for c in figs["vaal"].axes[0].collections if c.get_label().startswith("chance")]
    ys = chance.get_paths()[0].vertices[:, 1]
    assert (ys.min(), ys.max()) == pytest.approx((0.45, 0.55))  # 0.5 -+ the recorded band


def test_paper_figure_caption_lists_missing_runs(tmp_path):
    df = analysis.load_runs(write_everything(tmp_path / "res"))
    cap = analysis.paper_figure(df, "classification", root="R")
    assert "no runs for CIFAR100 under R: run `make reproduce-cifar100`" in cap.missing
    # the strategies of experiments/cifar10.yaml, in its order
    want = "CIFAR10: coreset, mc_dropout, dbal, ensemble_varr, full not run (run `make reproduce-cifar10`)"
    assert want in cap.missing
    assert "CIFAR10: vaal has 2/5 complete seeds" in cap.missing
    assert all(m in cap.caption for m in cap.missing)
    # one panel per dataset with runs (CIFAR10 here), never an empty one; units on both axes
    assert [ax.get_ylabel() for ax in cap.figure.axes] == ["Test accuracy (%)"]
    # the x axis names the pool it is a percentage of (no test size in these env.json files)
    assert [ax.get_xlabel() for ax in cap.figure.axes] == [
        "Labeled data (% of the 1,000-image pool)"
    ]
    # ablation runs of MNIST never enter the main curves
    demo = analysis.paper_figure(df, ["MNIST"], root="R")
    assert demo.missing == [] and "nothing expected is missing" in demo.caption
    assert "band: ±1 std over 2 seeds" not in _legend_texts(demo.figure)
    with pytest.raises(ValueError, match="unknown paper figure 'cifar'; choose one of"):
        analysis.paper_figure(df, "cifar")


def test_ablation_figure_groups_by_experiment_name(tmp_path):
    df = analysis.load_runs(write_everything(tmp_path / "res"))
    noise = analysis.ablation_figure(df, "noise")
    assert "noise10 on MNIST: 10.0% of queried labels flipped" in noise.caption
    assert "ablation_noise20_mnist: not run (`make ablation-mnist_noise20`)" in noise.missing
    own = analysis.ablation_figure(df, "vaal")
    labels = _legend_texts(own.figure)
    assert "VAAL, adversary off (adversary_param 0)" in labels
    assert "VAAL (no ablation)" in labels  # the standard demo_mnist VAAL, dashed
    assert "ablation_noise30_cifar10: not run" in noise.caption  # suggested for main datasets
    # no runs of the family: no figure, and the error names the shipped specs' commands
    for runs in (df[df["ablation"].isna()], df.iloc[:0]):
        with pytest.raises(analysis.NoFigure, match="`make ablation-mnist_budget_small`"):
            analysis.ablation_figure(runs, "budget")
    with pytest.raises(ValueError, match="unknown ablation family"):
        analysis.ablation_figure(df, "dropout")


def test_sampling_time_table_same_pool_and_hardware(tmp_path):
    gpu = {"device": "cuda:0", "gpu": "NVIDIA H100 80GB HBM3", "processor": "x86_64"}
    cpu = {"device": "cpu", "processor": "Xeon", "num_threads": 2}
    for seed, (s_random, s_vaal) in enumerate([(1.0, 10.0), (3.0, 14.0)]):
        write_run(tmp_path, "e", "random", seed, [0.5, 0.6, 0.7], query_s=s_random, env=cpu)
        write_run(tmp_path, "e", "vaal", seed, [0.5, 0.6, 0.7], query_s=s_vaal, env=gpu)
    table = analysis.sampling_time_table(analysis.load_runs(tmp_path)).set_index("strategy")
    assert table.loc["vaal", "seconds"] == pytest.approx(12.0)
    assert table.loc["vaal", "band_hi"] - 12.0 == pytest.approx(np.std([10, 14], ddof=1))
    assert table.loc["vaal", "band_kind"] == "std" and (table["unlabeled"] == 900).all()
    assert table.loc["vaal", "hardware"] == "NVIDIA H100 80GB HBM3"
    assert table.loc["random", "hardware"] == "Xeon (2 threads)"
    cap = analysis.sampling_time_figure(analysis.load_runs(tmp_path))
    assert "e: strategies ran on different hardware; times do not compare" in cap.missing
    assert "NVIDIA H100 80GB HBM3" in cap.caption and "Xeon (2 threads)" in cap.caption


# --- diagnostics -----------------------------------------------------------------------------------
def test_chance_warning_inside_band_only(tmp_path):
    aucs = {0: (0.52, 0.60), 1: (0.46, 0.44)}  # seed 0: chance then learned; seed 1: chance, below
    for seed, auc in aucs.items():
        write_run(
            tmp_path,
            "e",
            "vaal",
            seed,
            [0.5, 0.6, 0.7],
            extra=lambda c, a=auc: {"query_stats": vaal_stats(c, a) if c < 2 else {}},
        )
        # the same stats on a random run never warn: only VAAL's query uses the discriminator
        write_run(
            tmp_path,
            "e",
            "random",
            seed,
            [0.5, 0.6, 0.7],
            extra=lambda c: {"query_stats": vaal_stats(c)},
        )
    df = analysis.load_runs(tmp_path)
    assert analysis.chance_warnings(df) == [
        "VAAL selected by chance this cycle (e, seed 0, cycle 0, AUC 0.520, band 0.050)",
        "VAAL selected by chance this cycle (e, seed 1, cycle 0, AUC 0.460, band 0.050)",
    ]
    md = analysis.report(tmp_path, figures=False, verbose=False)
    assert "warning: VAAL selected by chance this cycle (e, seed 1, cycle 0, AUC 0.460" in md
    assert "cycle 1, AUC" not in md  # 0.60 and 0.44 lie outside 0.5 +- 0.05
    assert "Figures written" not in md


def test_no_diagnostics_no_warning_and_a_figure_that_says_so(tmp_path):
    write_demo(tmp_path)
    df = analysis.load_runs(tmp_path)
    assert analysis.chance_warnings(df) == []
    with pytest.raises(analysis.NoFigure, match="no VAAL diagnostics .*: run `make demo`"):
        analysis.plot_vaal_diagnostics(df)
    assert not analysis.figure_entry("vaal_diagnostics").allows(df)


def test_class_shares_and_bias_by_hand(tmp_path):
    df = analysis.load_runs(write_everything(tmp_path))
    shares = analysis.class_shares(df)
    vaal0 = shares[(shares["strategy"] == "vaal") & (shares["cycle"] == 0)].set_index("class")
    assert vaal0.loc[0, "count"] == 3 * 55 and vaal0.loc[0, "share"] == pytest.approx(0.55)
    assert set(shares["cycle"]) == {0, 1}  # the last cycle queries nothing
    bias = analysis.class_bias(shares).set_index(["strategy", "cycle"])
    # |.55 - .1| + 9 |.05 - .1| = .9, halved
    assert bias.loc[("vaal", 0), "tv"] == pytest.approx(0.45)
    assert bias.loc[("vaal", 0), "against"] == "random"
    assert bias.loc[("random", 0), "tv"] == pytest.approx(0.0)


def test_report_writes_tables_and_figures(tmp_path, capsys):
    write_demo(tmp_path / "res")
    md = analysis.report(tmp_path / "res", out_dir=tmp_path / "figs")
    assert md in capsys.readouterr().out
    assert (tmp_path / "figs" / "report.md").read_text() == md
    assert "| 200 | 20.0 | 83.80 ± 0.20 | 80.20 ± 0.20 |" in md
    assert "vaal beats random at 2/2 budgets" in md
    for stem in ("curves_mnist", "sampling_time", "sampling_time_table"):
        _assert_written(tmp_path / "figs" / stem)
    # no VAAL diagnostics in these records: no file, one line saying what to run
    assert not (tmp_path / "figs" / "vaal_diagnostics.png").exists()
    assert "- vaal_diagnostics: no VAAL diagnostics" in md


def test_report_single_strategy_single_seed(tmp_path):
    write_run(tmp_path / "res", "demo_mnist", "random", 0, [0.5, 0.6], cycles=3)
    md = analysis.report(tmp_path / "res", out_dir=tmp_path / "figs", verbose=False)
    assert "50.00 ± n/a (n=1)" in md and "nothing to compare" in md
    assert "partial run" in md
    _assert_written(tmp_path / "figs" / "curves_mnist")


def test_cli(tmp_path, capsys):
    write_demo(tmp_path / "res")
    assert cli(["report", str(tmp_path / "res"), "--out", str(tmp_path / "f")]) == 0
    out = capsys.readouterr().out
    assert "## demo_mnist" in out and str(tmp_path / "f" / "curves_mnist.png") in out
    last = out.rstrip("\n").splitlines()[-1]
    assert last.startswith("wrote ") and f"to {tmp_path / 'f'}/: report.md, " in last
    assert "curves_mnist.{png,pdf,txt}" in last
    assert out.startswith((tmp_path / "f" / "report.md").read_text())
    assert cli(["report", str(tmp_path / "res"), "--out", str(tmp_path / "g"), "--no-figures"]) == 0
    out = capsys.readouterr().out
    assert "## demo_mnist" in out and "## Figures" not in out
    assert out.rstrip("\n").splitlines()[-1] == f"wrote 1 file to {tmp_path / 'g'}/: report.md"
    assert sorted(p.name for p in (tmp_path / "g").iterdir()) == ["report.md"]


def test_markdown_table():
    md = analysis.markdown_table(pd.DataFrame({"a": [1], "b": ["x"]}))
    assert md.splitlines() == ["| a | b |", "|---|---|", "| 1 | x |"]


def test_no_figure_is_drawn_from_an_empty_root(tmp_path):
    df = analysis.load_runs(tmp_path, allow_empty=True)
    assert analysis.chance_warnings(df) == [] and analysis.verdicts(df).empty
    for draw in (
        analysis.plot_vaal_diagnostics,
        analysis.plot_query_classes,
        analysis.plot_sampling_time,
        analysis.plot_curves,
        lambda d: analysis.sampling_time_figure(d, root="R"),
        *(lambda d, n=n: analysis.paper_figure(d, n, root="R") for n in analysis.PAPER_FIGURES),
        *(lambda d, f=f: analysis.ablation_figure(d, f) for f in analysis.ABLATION_FAMILIES),
    ):
        with pytest.raises(analysis.NoFigure, match=r"run .*`(make|python -m vaal_core) "):
            draw(df)
    drawn = analysis.draw_figures(df, root="R", out_dir=tmp_path / "figs")
    assert [d.entry.name for d in drawn] == [e.name for e in analysis.FIGURES]
    assert not (tmp_path / "figs").exists()  # nothing written, not even the folder
    for d in drawn:
        assert not d.figures and d.not_drawn.startswith(f"{d.entry.name}: no ")
        assert " under R: " in d.not_drawn and "run " in d.not_drawn


def test_vaal_ablation_table_pairs_each_variant_with_its_base_on_seed(tmp_path):
    """AUBC of values (a, b, c) at fractions .1/.2/.3 is (a + 2b + c) / 4, worked out by hand."""

    def stats_until(last, auc):
        return lambda c: {"query_stats": vaal_stats(c, auc=auc)} if c < last else {}

    shifts = (0.01, 0.02, 0.03)  # noadv loses this much at every budget, per seed
    for k in range(3):
        base = [0.5 + 0.01 * k, 0.6 + 0.01 * k, 0.7 + 0.01 * k]
        write_run(tmp_path, "demo_mnist", "vaal", k, base, extra=stats_until(2, (0.5, 0.7)))
        write_run(
            tmp_path, "demo_mnist", "random", k, [0.5 + 0.01 * k, 0.55 + 0.01 * k, 0.6 + 0.01 * k]
        )
        write_run(
            tmp_path,
            "ablation_noadv_mnist",
            "vaal",
            k,
            [v - shifts[k] for v in base],
            extra=stats_until(2, (0.5, 0.6)),
        )
    table = analysis.vaal_ablation_table(analysis.load_runs(tmp_path))
    assert table["variant"].tolist() == ["base", "noadv"]
    base, noadv = table.iloc[0], table.iloc[1]
    assert base["aubc_mean"] == pytest.approx(0.61) and base["n_seeds"] == 3
    assert np.isnan(base["diff_vs_base"])
    assert base["diff_vs_random"] == pytest.approx(0.05)  # 0.60 - 0.55 at every seed
    assert noadv["diff_vs_base"] == pytest.approx(-0.02)
    d = -np.array(shifts)
    t = d.mean() / (d.std(ddof=1) / np.sqrt(3))
    assert noadv["p_vs_base"] == pytest.approx(2 * stats.t.sf(abs(t), df=2))
    assert noadv["diff_vs_random"] == pytest.approx(0.05 - 0.02)
    assert base["disc_auc_by_cycle"] == "0.50 0.70" and noadv["disc_auc_by_cycle"] == "0.50 0.60"
    assert noadv["chance_band"] == pytest.approx(0.05)
    text = analysis.report(tmp_path, figures=False, verbose=False)
    section = text.split("## VAAL ablations against base VAAL")[1]
    assert "| MNIST | noadv | 3 | 59.00 ± 0.00 | -2.00 | 0.074 | 3.00 |" in section
