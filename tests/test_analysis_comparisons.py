"""Comparisons between strategies: shared labeled sets out of the Holm family, a correction across
strategies, real pair counts, ablations against their own random, expected runs from the shipped
specs, paired AUBC intervals, label efficiency and training health."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import analysis
from analysis.specs import shipped_specs
from tests.analysis_fixtures import write_everything, write_run

REPO = Path(__file__).resolve().parents[1]


def _runs(tmp_path: Path) -> pd.DataFrame:
    return analysis.load_runs(tmp_path)


# --- empty results: nothing crashes -----------------------------------------------------------
def test_empty_root_aubc_and_ablation_table_do_not_crash(tmp_path):
    df = analysis.load_runs(tmp_path, allow_empty=True)
    assert analysis.aubc(df)["complete"].dtype == bool  # object dtype selected columns: KeyError
    assert analysis.aubc_summary(df).empty and analysis.vaal_ablation_table(df).empty
    assert analysis.aubc_diffs(df).empty and analysis.label_efficiency(df).empty
    with pytest.raises(
        analysis.NoFigure, match="no experiment with random .* under R: run `make demo`"
    ):
        analysis.label_efficiency_figure(df, root="R")


# --- the Holm family --------------------------------------------------------------------------
def _gpu_noise_runs(root: Path, shared_start: bool = True) -> None:
    """4 seeds; at cycle 0 both strategies trained on one labeled set but the values differ a
    little (a GPU's nondeterminism), always in vaal's favour: a 'free' significant test."""
    rng = np.random.default_rng(3)
    for k in range(4):
        base = rng.normal([0.6, 0.7, 0.8], 0.01)
        vaal = base + [0.002 + 0.0001 * k, 0.03, 0.03] + rng.normal(0, 0.004, 3)
        extra = None if shared_start else (lambda c: {"labeled_sha1": f"vaal-{c}"})
        write_run(root, "e", "random", k, base.tolist())
        write_run(root, "e", "vaal", k, vaal.tolist(), extra=extra)


def test_holm_family_leaves_out_budgets_with_a_shared_labeled_set(tmp_path):
    _gpu_noise_runs(tmp_path)
    cmp = analysis.compare(_runs(tmp_path)).set_index("n_labeled")
    assert cmp["shared"].tolist() == [True, False, False]
    assert np.isnan(cmp.loc[100, "p_ttest"]) and np.isnan(cmp.loc[100, "p_holm"])
    p = cmp.loc[[200, 300], "p_ttest"].to_numpy()
    assert cmp.loc[[200, 300], "p_holm"].to_numpy() == pytest.approx(analysis.holm(p))
    # detected from labeled_sha1, not from the cycle number: a different first set is tested
    _gpu_noise_runs(tmp_path / "differ", shared_start=False)
    other = analysis.compare(_runs(tmp_path / "differ")).set_index("n_labeled")
    assert not other.loc[100, "shared"] and np.isfinite(other.loc[100, "p_ttest"])


def test_nan_value_is_no_pair(tmp_path):
    rng = np.random.default_rng(5)
    for k in range(4):
        base = rng.normal([0.6, 0.7], 0.01)
        vaal = (base + [0.0, 0.05] + rng.normal(0, 0.005, 2)).tolist()
        if k == 3:
            vaal[1] = float("nan")  # json writes NaN; one missing metric
        write_run(tmp_path, "e", "random", k, base.tolist())
        write_run(tmp_path, "e", "vaal", k, vaal)
    df = _runs(tmp_path)
    row = analysis.compare(df).set_index("n_labeled").loc[200]
    assert row["n_pairs"] == 3 and np.isfinite(row["p_ttest"])
    v = df[(df["n_labeled"] == 200) & (df["seed"] < 3)].pivot(
        index="seed", columns="strategy", values="value"
    )
    assert row["p_ttest"] == pytest.approx(stats.ttest_rel(v["vaal"], v["random"]).pvalue)


def test_verdicts_and_win_tie_loss_correct_across_strategies(tmp_path):
    rng = np.random.default_rng(7)
    for k in range(5):
        base = rng.normal([0.6, 0.7, 0.8], 0.01)
        write_run(tmp_path, "e", "random", k, base.tolist())
        for name, gain in (("vaal", 0.05), ("coreset", 0.004), ("mc_dropout", -0.002)):
            noise = rng.normal(0, 0.004, 3)
            write_run(tmp_path, "e", name, k, (base + [0, gain, gain] + noise).tolist())
    df = _runs(tmp_path)
    cmp = analysis.compare(df)
    tested = cmp["p_ttest"].notna()
    assert tested.sum() == 6  # 3 strategies x 2 budgets; cycle 0 shared
    family = analysis.holm(cmp.loc[tested, "p_ttest"].to_numpy())
    assert cmp.loc[tested, "p_holm_family"].to_numpy() == pytest.approx(family)
    assert (cmp["significant"] == (cmp["p_holm_family"] < 0.05)).all()
    v = analysis.verdicts(df).set_index("strategy")
    assert (v["family"] == 6).all()
    assert "[Holm family: 6 tests, every strategy x budget]" in v.loc["vaal", "verdict"]
    wtl = analysis.win_tie_loss(df)
    assert wtl.attrs["comparisons"] == 12  # 6 pairs x 2 budgets
    assert "Holm" in wtl.attrs["correction"]
    assert wtl.loc["vaal", "random"] == 2


# --- ablations --------------------------------------------------------------------------------
def test_ablation_compared_with_random_under_the_same_ablation(tmp_path):
    for k in range(3):
        write_run(tmp_path, "demo_mnist", "random", k, [0.5, 0.6 + k / 100, 0.7])
        write_run(tmp_path, "demo_mnist", "vaal", k, [0.5, 0.62 + k / 100, 0.72])
        same = [0.45, 0.52 + k / 100, 0.6]  # noise hurts both alike: VAAL == random within it
        write_run(tmp_path, "ablation_noise10_mnist", "random", k, same, spec_hash="1" * 12)
        write_run(tmp_path, "ablation_noise10_mnist", "vaal", k, same, spec_hash="1" * 12)
        # a larger budget: 100, 300, 500 labels; only 100 and 300 are on the base grid
        write_run(
            tmp_path,
            "ablation_budget_large_mnist",
            "vaal",
            k,
            [0.5, 0.66 + k / 100, 0.9],
            budget=200,
            spec_hash="2" * 12,
        )
    table = analysis.vaal_ablation_table(_runs(tmp_path)).set_index("variant")
    noise = table.loc["noise10"]
    assert noise["diff_vs_random"] == pytest.approx(0.0)  # was -0.016: against base random
    assert noise["random_from"] == "ablation_noise10_mnist"
    large = table.loc["budget_large"]
    assert large["random_from"] == ""  # no random under this ablation: nothing to compare
    assert np.isnan(large["diff_vs_random"])
    # AUBC over the shared grid (100 and 300 labels, fractions .1 and .3): mean of the two ends;
    # the variant reaches 300 labels at its second cycle
    base_vaal = np.array([(0.5 + 0.72) / 2] * 3)
    variant = np.array([(0.5 + 0.66 + k / 100) / 2 for k in range(3)])
    assert large["diff_vs_base"] == pytest.approx((variant - base_vaal).mean())


# --- expected runs and commands from the shipped specs -----------------------------------------
def test_segmentation_figure_expects_what_the_specs_run():
    expected = analysis.PAPER_FIGURES["segmentation"].expected()
    for dataset in ("Cityscapes", "BDD100K"):
        assert "suggestive_annotation" in expected[dataset]
        assert "ensemble_varr" not in expected[dataset]
    cityscapes = next(s for s in shipped_specs() if s.experiment == "cityscapes")
    assert expected["Cityscapes"] == cityscapes.strategies
    for name in ("suggestive_annotation", "qbc", "full"):
        assert name in analysis.STRATEGY_LABELS and name in analysis.STRATEGY_COLORS


def _suggested_commands(tmp_path: Path) -> set[str]:
    """Every `make ...` command a caption or a figure's 'not drawn' line suggests, on an empty
    root and on a full one."""
    texts = []
    for df in (
        analysis.load_runs(tmp_path / "none", allow_empty=True),
        analysis.load_runs(write_everything(tmp_path / "res")),
    ):
        for drawn in analysis.draw_figures(df, root="R"):
            texts += [drawn.not_drawn] + [c.caption for c in drawn.figures.values()]
    return {m for t in texts for m in re.findall(r"`(make [^`]+)`", t)}


def test_every_suggested_command_runs_its_guard(tmp_path):
    commands = _suggested_commands(tmp_path)
    assert "make ablation-mnist_noise20" in commands and "make reproduce-cifar100" in commands
    # The real target with its python replaced by `true`: the Makefile's own spec check runs, the
    # experiment does not. The venv stamp is a fresh file in tmp_path (newer than what it rests on),
    # so make never touches the venv; PYTHON=false would fail any venv step harmlessly.
    stamp = tmp_path / "stamp"
    stamp.touch()
    later = max((REPO / f).stat().st_mtime for f in ("pyproject.toml", "requirements.lock")) + 10
    os.utime(stamp, (later, later))
    safe = ["PY=true", "PYTHON=false", f"STAMP={stamp}", f"VENV={tmp_path / 'venv'}"]

    def make(*target: str) -> subprocess.CompletedProcess:
        cmd = ["make", "-s", *target, *safe]
        return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=60)

    for command in sorted(commands):
        done = make(*command.split()[1:])
        assert done.returncode == 0, f"{command}: {done.stderr}"
    assert make("reproduce-ablations/ablation_noise20_mnist").returncode != 0  # the old caption's


def test_sampling_time_caption_asks_only_for_the_specs_strategies(tmp_path):
    for seed in (0, 1):
        for strategy in ("random", "vaal"):
            write_run(
                tmp_path,
                "cityscapes",
                strategy,
                seed,
                [0.3, 0.4],
                dataset="cityscapes",
                metric="miou",
            )
    cap = analysis.sampling_time_figure(_runs(tmp_path)).caption
    assert "cityscapes: coreset, mc_dropout, qbc, suggestive_annotation not run" in cap
    assert "dbal" not in cap and "ensemble_varr" not in cap


# --- AUBC interval, training noise, label efficiency -------------------------------------------
def test_aubc_difference_has_a_paired_t_interval(tmp_path):
    gains = [0.01, 0.03, 0.02]
    for k, g in enumerate(gains):
        write_run(tmp_path, "e", "random", k, [0.5, 0.6 + k / 100, 0.7])
        write_run(tmp_path, "e", "vaal", k, [0.5, 0.6 + k / 100 + 2 * g, 0.7])
    row = analysis.aubc_diffs(_runs(tmp_path)).iloc[0]
    d = np.array(gains)  # AUBC = (a + 2b + c) / 4: the middle gain 2g counts half
    lo, hi = stats.t.interval(0.95, 2, loc=d.mean(), scale=stats.sem(d))
    assert row["n_pairs"] == 3 and row["mean_diff"] == pytest.approx(d.mean())
    assert (row["ci_lo"], row["ci_hi"]) == pytest.approx((lo, hi))
    text = analysis.report(tmp_path, figures=False, verbose=False)
    assert f"[{100 * lo:+.2f}, {100 * hi:+.2f}]" in text
    noise = analysis.training_noise(_runs(tmp_path)).set_index("n_labeled")
    assert noise.loc[200, "baseline_std"] == pytest.approx(np.std([0.6, 0.61, 0.62], ddof=1))
    assert "random std over seeds" in text


def test_label_efficiency_interpolates_the_mean_curve(tmp_path):
    for k in range(2):
        write_run(tmp_path, "e", "random", k, [0.5, 0.6, 0.7])
        write_run(tmp_path, "e", "vaal", k, [0.5, 0.7, 0.8])
        write_run(tmp_path, "e", "coreset", k, [0.5, 0.55, 0.6])
    df = _runs(tmp_path)
    eff = analysis.label_efficiency(df).set_index("strategy")  # target: random's last mean, .7
    assert eff.loc["random", "labels"] == pytest.approx(300) and eff.loc["random", "ratio"] == 1
    assert eff.loc["vaal", "labels"] == pytest.approx(200)
    assert eff.loc["vaal", "ratio"] == pytest.approx(2 / 3)
    assert not eff.loc["coreset", "reached"] and np.isnan(eff.loc["coreset", "ratio"])
    at = analysis.label_efficiency(df, target=0.65).set_index("strategy")
    assert at.loc["vaal", "labels"] == pytest.approx(175)  # halfway between 100 (.5) and 200 (.7)
    cap = analysis.label_efficiency_figure(df)
    assert "interpolation" in cap.caption and cap.missing == []
    assert "| VAAL | 200 | 0.67 | interpolated |" in analysis.report(
        tmp_path, figures=False, verbose=False
    )


# --- training health -----------------------------------------------------------------------
def _with_unfit_cycle(root: Path) -> None:
    """coreset seed 1 cycle 2 did not fit (61% on its own labeled set); old-format runs beside."""

    def health(seed: int):
        def fields(cycle: int) -> dict:
            bad = seed == 1 and cycle == 2
            return {"fit_ok": not bad, "train_fit": 0.61 if bad else 0.99}

        return fields

    for k in range(3):
        write_run(root, "e", "random", k, [0.5, 0.6, 0.7])
        write_run(root, "e", "coreset", k, [0.5, 0.62, 0.45 if k == 1 else 0.72], extra=health(k))


def test_unhealthy_cycles_are_warned_marked_and_counted(tmp_path):
    _with_unfit_cycle(tmp_path)
    df = _runs(tmp_path)
    assert df["fit_ok"].dtype == "boolean"
    assert analysis.health_warnings(df) == [
        "e: Core-set seed 1 cycle 2: the task model reached 61% on its own labeled set; "
        "this point measures training, not selection"
    ]
    cmp = analysis.compare(df).set_index("n_labeled")
    assert cmp.loc[300, "unhealthy"] == 1 and cmp.loc[200, "unhealthy"] == 0
    assert cmp.loc[300, "n_pairs"] == 3  # kept, not dropped
    v = analysis.verdicts(df).iloc[0]
    assert v["unhealthy"] == 1 and "[1 unhealthy point:" in v["verdict"]
    text = analysis.report(tmp_path, out_dir=tmp_path / "f", verbose=False)
    assert "warning: e: Core-set seed 1 cycle 2: the task model reached 61%" in text
    assert (tmp_path / "f" / "label_efficiency.png").exists()
    cap = analysis.paper_figure(df, ["MNIST"])
    assert "Black x: 1 run point where the task model did not fit" in cap.caption
    marks = [
        line
        for ax in cap.figure.axes
        for line in ax.get_lines()
        if line.get_marker() == "x" and line.get_color() == analysis.style.UNHEALTHY_COLOR
    ]
    assert len(marks) == 1 and list(marks[0].get_ydata()) == [pytest.approx(45.0)]


def test_records_without_health_fields_are_unknown_not_unhealthy(tmp_path):
    run = write_run(tmp_path, "e", "random", 0, [0.5, 0.6])
    lines = [json.loads(x) for x in (run / "cycles.jsonl").read_text().splitlines()]
    old = [{k: v for k, v in r.items() if k not in analysis.runs.HEALTH_FIELDS} for r in lines]
    (run / "cycles.jsonl").write_text("".join(json.dumps(r) + "\n" for r in old))
    df = _runs(tmp_path)
    assert df["fit_ok"].isna().all() and df["train_fit"].isna().all()
    assert analysis.health_warnings(df) == [] and analysis.unhealthy_cycles(df).empty
