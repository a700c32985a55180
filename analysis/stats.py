"""Statistics over seeds: summaries, area under the budget curve, paired tests and verdicts.

Strategies are compared seed by seed (same seed = same initial labeled set), so every test here is
paired on seed. With one seed nothing is tested and the outputs say n/a rather than guessing.
Bands drawn in figures follow `band`: ±1 std below 3 seeds, a 95% t-interval from 3 seeds up.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats

from vaal_core.words import count

__all__ = [
    "GROUP",
    "BAND_T_FROM",
    "band",
    "band_label",
    "wilcoxon_floor",
    "percent_scale",
    "summarize",
    "aubc",
    "aubc_summary",
    "aubc_diffs",
    "common_grid",
    "shared_budgets",
    "training_noise",
    "holm",
    "paired_test",
    "compare",
    "verdicts",
    "win_tie_loss",
    "FAMILY",
]

GROUP = ["experiment", "dataset", "protocol", "strategy", "metric"]
TOPLINE = "full"  # a single full-data point: drawn as a reference line, never tested


def percent_scale(values: pd.Series) -> float:
    """100 when a metric is logged as a fraction in [0, 1], else 1 (already in percent)."""
    finite = values.dropna()
    return 100.0 if len(finite) and finite.abs().max() <= 1.0 else 1.0


def _t_halfwidth(std: pd.Series, n: pd.Series, level: float = 0.95) -> pd.Series:
    """Half-width of the t-based confidence interval of a mean; NaN below two seeds."""
    n = n.astype(float)
    dof = (n - 1).where(n >= 2)
    return stats.t.ppf((1 + level) / 2, dof) * std / np.sqrt(n)


# Seeds from which a band is a 95% t-interval; below it the band is +-1 std. With 2 seeds the
# t-quantile is 12.7, so a "95% CI" spans tens of points and says more about n than about the method.
BAND_T_FROM = 3


def band(values: np.ndarray | pd.Series) -> tuple[float, float, float, str]:
    """(mean, low, high, kind) of one point's values over seeds, by the band rule.

    kind is 'std' (+-1 sample std, n < BAND_T_FROM), 't95' (95% t-interval of the mean) or 'none'
    (one value: no spread to show).
    """
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    if len(v) == 0:
        return np.nan, np.nan, np.nan, "none"
    m = float(v.mean())
    if len(v) < 2:
        return m, m, m, "none"
    sd = float(v.std(ddof=1))
    if len(v) < BAND_T_FROM:
        return m, m - sd, m + sd, "std"
    h = float(stats.t.ppf(0.975, len(v) - 1) * sd / np.sqrt(len(v)))
    return m, m - h, m + h, "t95"


def _seeds(counts: list[int]) -> str:
    lo, hi = min(counts), max(counts)
    n = f"{lo}" if lo == hi else f"{lo}-{hi}"
    return f"{n} seed{'' if n == '1' else 's'}"


def band_label(n_seeds: int | list[int] | np.ndarray | pd.Series) -> str:
    """What the shaded band of a figure is, for its legend: '±1 std over 2 seeds', ...

    Accepts one seed count or the counts of every point drawn (mixed counts name both rules).
    """
    counts = sorted({int(n) for n in np.atleast_1d(np.asarray(n_seeds)) if n > 0})
    if not counts:
        return "no runs"
    parts = []
    none = [n for n in counts if n < 2]
    std = [n for n in counts if 2 <= n < BAND_T_FROM]
    t95 = [n for n in counts if n >= BAND_T_FROM]
    if std:
        parts.append(f"±1 std over {_seeds(std)}")
    if t95:
        parts.append(f"95% t-interval over {_seeds(t95)}")
    if none:
        parts.append(f"no band where {_seeds(none)}")
    return "band: " + "; ".join(parts)


def wilcoxon_floor(n_pairs: int) -> float:
    """Smallest p an exact two-sided Wilcoxon signed-rank test can give on n pairs: 2 / 2^n.

    Reached when every difference has the same sign (Wilcoxon 1945); with n <= 5 it is >= 0.0625,
    so such a test can never be significant at 0.05, whatever the data.
    """
    return 1.0 if n_pairs < 1 else min(1.0, 2.0 / 2.0**n_pairs)


def summarize(df: pd.DataFrame) -> pd.DataFrame:
    """Mean, std (ddof=1), seed count and 95% t-interval half-width per strategy and budget.

    `band_lo`/`band_hi`/`band_kind` are the band drawn in figures (see `band`).
    """
    keys = GROUP + ["n_labeled"]
    out = (
        df.groupby(keys, sort=True, observed=True)
        .agg(
            fraction=("fraction", "mean"),
            mean=("value", "mean"),
            std=("value", "std"),
            n_seeds=("seed", "nunique"),
        )
        .reset_index()
    )
    out["ci95"] = _t_halfwidth(out["std"], out["n_seeds"])
    half = out["std"].where(out["n_seeds"] < BAND_T_FROM, out["ci95"]).fillna(0.0)
    out["band_lo"], out["band_hi"] = out["mean"] - half, out["mean"] + half
    out["band_kind"] = np.select(
        [out["n_seeds"] < 2, out["n_seeds"] < BAND_T_FROM], ["none", "std"], "t95"
    )
    return out


def _area(fraction: np.ndarray, value: np.ndarray) -> float:
    """Trapezoid area over the labeled fraction, divided by the span: a mean metric."""
    order = np.argsort(fraction)
    x, y = fraction[order], value[order]
    if len(x) == 1 or x[-1] == x[0]:
        return float(y.mean())
    return float(np.sum((y[1:] + y[:-1]) / 2 * np.diff(x)) / (x[-1] - x[0]))


def common_grid(df: pd.DataFrame) -> list[int]:
    """Budgets (n_labeled) that every run in `df` reached: the grid on which AUBCs compare."""
    sets = [set(run["n_labeled"]) for _, run in df.groupby("run_dir", sort=True)]
    return sorted(set.intersection(*sets)) if sets else []


def aubc(df: pd.DataFrame, grid: list[int] | None = None) -> pd.DataFrame:
    """Area under the budget curve of every run, normalised so it reads as a mean metric.

    `grid` keeps only those budgets (n_labeled), so runs with different schedules compare over the
    budgets they share (see `common_grid`); `complete` then means every grid point is present.
    """
    rows = []
    if grid is not None:
        df = df[df["n_labeled"].isin(grid)]
    for key, run in df.groupby(GROUP + ["seed", "run_dir"], sort=True, observed=True):
        run = run.dropna(subset=["value"])
        complete = bool(run["complete"].all())
        if grid is not None:
            complete = set(grid) <= set(run["n_labeled"])
        rows.append(
            dict(
                zip(GROUP + ["seed", "run_dir"], key, strict=True),
                complete=complete,
                n_points=len(run),
                fraction_min=run["fraction"].min(),
                fraction_max=run["fraction"].max(),
                aubc=_area(run["fraction"].to_numpy(float), run["value"].to_numpy(float))
                if len(run)
                else np.nan,
            )
        )
    cols = GROUP + ["seed", "run_dir", "complete", "n_points", "fraction_min", "fraction_max"]
    out = pd.DataFrame(rows, columns=cols + ["aubc"])
    return out.astype({"complete": "bool"})  # an empty frame would make it object: a column mask


def aubc_summary(df: pd.DataFrame) -> pd.DataFrame:
    """AUBC mean ± std over seeds per strategy, from complete runs only (spans must match)."""
    per_run = aubc(df)
    per_run = per_run[per_run["complete"]]
    out = (
        per_run.groupby(GROUP, sort=True, observed=True)
        .agg(mean=("aubc", "mean"), std=("aubc", "std"), n_seeds=("seed", "nunique"))
        .reset_index()
    )
    out["ci95"] = _t_halfwidth(out["std"], out["n_seeds"])
    return out


def _pair_grid(exp: pd.DataFrame, strategy: str, baseline: str) -> list[int]:
    """Budgets every complete run of `strategy` and `baseline` in one experiment reached."""
    both = exp[exp["strategy"].isin([strategy, baseline]) & exp["complete"]]
    return common_grid(both)


def aubc_diffs(df: pd.DataFrame, baseline: str = "random", level: float = 0.95) -> pd.DataFrame:
    """AUBC of each strategy minus `baseline`'s, paired on seed, with a t-interval over seeds.

    Both AUBCs are taken over the budgets the two share (complete runs only); the interval is
    mean ± t_{n-1} * sd / sqrt(n) of the per-seed differences (NaN below 2 pairs). Metric units.
    """
    rows = []
    for experiment, exp in df.groupby("experiment", sort=True):
        for strategy in sorted(set(exp["strategy"]) - {baseline, TOPLINE}):
            if not (exp["strategy"] == baseline).any():
                continue
            grid = _pair_grid(exp, strategy, baseline)
            per_run = aubc(exp[exp["strategy"].isin([strategy, baseline])], grid=grid)
            per_run = per_run[per_run["complete"]].set_index(["strategy", "seed"])["aubc"]
            d = pd.Series(dtype=float)
            if len(grid) and {strategy, baseline} <= set(per_run.index.get_level_values(0)):
                d = (per_run.loc[strategy] - per_run.loc[baseline]).dropna()
            n = len(d)
            mean = float(d.mean()) if n else np.nan
            sd = float(d.std(ddof=1)) if n >= 2 else np.nan
            half = (
                float(stats.t.ppf((1 + level) / 2, n - 1) * sd / np.sqrt(n)) if n >= 2 else np.nan
            )
            rows.append(
                dict(
                    experiment=experiment,
                    strategy=strategy,
                    baseline=baseline,
                    n_pairs=n,
                    budgets=len(grid),
                    mean_diff=mean,
                    ci_lo=mean - half,
                    ci_hi=mean + half,
                )
            )
    cols = ["experiment", "strategy", "baseline", "n_pairs", "budgets", "mean_diff"]
    return pd.DataFrame(rows, columns=cols + ["ci_lo", "ci_hi"])


def holm(pvalues: np.ndarray | list[float]) -> np.ndarray:
    """Holm step-down adjusted p-values; NaN entries stay NaN and are not counted in the family."""
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    tested = ~np.isnan(p)
    m = int(tested.sum())
    if m == 0:
        return out
    order = np.argsort(p[tested], kind="stable")
    scaled = (m - np.arange(m)) * p[tested][order]
    adjusted = np.minimum(1.0, np.maximum.accumulate(scaled))
    result = np.empty(m)
    result[order] = adjusted
    out[tested] = result
    return out


def paired_test(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """Paired t-test and Wilcoxon signed-rank of a - b, with effect sizes.

    NaN where a test is undefined: fewer than two pairs, or differences without spread.
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    real = ~(np.isnan(a) | np.isnan(b))  # a pair with a missing value is no pair
    a, b = a[real], b[real]
    d = a - b
    n = len(d)
    res = dict(
        n_pairs=n,
        mean_diff=float(d.mean()) if n else np.nan,
        sd_diff=float(d.std(ddof=1)) if n >= 2 else np.nan,
        cohen_d=np.nan,
        t_stat=np.nan,
        p_ttest=np.nan,
        p_wilcoxon=np.nan,
    )
    if n < 2 or res["sd_diff"] == 0:  # no spread: the t statistic is undefined
        return res
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore")
        t = stats.ttest_rel(a, b)
        res["t_stat"], res["p_ttest"] = float(t.statistic), float(t.pvalue)
        try:
            res["p_wilcoxon"] = float(stats.wilcoxon(d).pvalue)
        except ValueError:
            pass
    res["cohen_d"] = res["mean_diff"] / res["sd_diff"]  # d_z: effect size of paired differences
    return res


def shared_budgets(exp: pd.DataFrame, a: str, b: str) -> set[int]:
    """Budgets of one experiment at which `a` and `b` trained on the same labeled set at every
    seed both ran (equal `labeled_sha1`), e.g. the shared initial pool of cycle 0.

    A test there measures training noise alone (a GPU's nondeterminism), not selection, so it stays
    out of every test family. Records without `labeled_sha1` count as not shared (unknown).
    """
    if "labeled_sha1" not in exp:
        return set()
    sha = exp[exp["strategy"].isin([a, b])].pivot_table(
        index=["n_labeled", "seed"], columns="strategy", values="labeled_sha1", aggfunc="first"
    )
    if a not in sha or b not in sha:
        return set()
    sha = sha[[a, b]].dropna()
    same = (sha[a] == sha[b]).groupby(level="n_labeled").all()
    return {int(n) for n, s in same.items() if s}


def _unhealthy(rows: pd.DataFrame) -> int:
    """Records whose task model did not fit its labeled set (`fit_ok` False; missing = unknown)."""
    if "fit_ok" not in rows:
        return 0
    return int((rows["fit_ok"].astype("boolean") == False).sum())  # noqa: E712 (<NA> stays out)


_COMPARE_COLS = (
    ["experiment", "dataset", "metric", "strategy", "baseline", "n_labeled", "fraction"]
    + ["shared", "n_pairs", "mean_diff", "sd_diff", "cohen_d", "t_stat", "p_ttest", "p_wilcoxon"]
    + ["p_holm", "p_wilcoxon_holm", "p_holm_family", "significant", "unhealthy"]
)
FAMILY = "Holm over every strategy x budget test against the baseline in one experiment"


def compare(df: pd.DataFrame, baseline: str = "random", alpha: float = 0.05) -> pd.DataFrame:
    """Every strategy against `baseline` at every budget, paired on seed.

    Budgets where the two trained on the same labeled set (`shared`, see `shared_budgets`) are
    listed but not tested. `n_pairs` counts seeds with a value on both sides. `p_holm`: Holm across
    one strategy's budgets; `p_holm_family`: Holm across all strategies x budgets of the experiment
    (`FAMILY`), which `significant` and the verdicts use. `unhealthy`: records in the pairs whose task
    model did not fit (`fit_ok` False); they are kept, and counted.
    """
    rows = []
    for experiment, exp in df.groupby("experiment", sort=True):
        base = exp[exp["strategy"] == baseline].set_index(["n_labeled", "seed"])
        if base.empty:
            continue
        base = base[["value"] + (["fit_ok"] if "fit_ok" in base else [])].add_prefix("base_")
        experiment_rows = []
        for strategy in sorted(set(exp["strategy"]) - {baseline, TOPLINE}):
            other = exp[exp["strategy"] == strategy].set_index(["n_labeled", "seed"])
            pairs = other.join(base, how="inner")
            pairs = pairs[pairs["value"].notna() & pairs["base_value"].notna()]
            shared = shared_budgets(exp, strategy, baseline)
            family = []
            for n_labeled, at in pairs.groupby(level="n_labeled", sort=True):
                test = paired_test(at["value"].to_numpy(), at["base_value"].to_numpy())
                if n_labeled in shared:
                    test.update(t_stat=np.nan, p_ttest=np.nan, p_wilcoxon=np.nan, cohen_d=np.nan)
                unhealthy = _unhealthy(at)
                if "base_fit_ok" in at:
                    unhealthy += _unhealthy(at[["base_fit_ok"]].rename(columns=lambda c: c[5:]))
                family.append(
                    dict(
                        experiment=experiment,
                        dataset=at["dataset"].iloc[0],
                        metric=at["metric"].iloc[0],
                        strategy=strategy,
                        baseline=baseline,
                        n_labeled=n_labeled,
                        fraction=at["fraction"].mean(),
                        shared=n_labeled in shared,
                        **test,
                        unhealthy=unhealthy,
                    )
                )
            p_holm = holm([r["p_ttest"] for r in family])
            p_w_holm = holm([r["p_wilcoxon"] for r in family])
            for r, ph, pw in zip(family, p_holm, p_w_holm, strict=True):
                r.update(p_holm=ph, p_wilcoxon_holm=pw)
            experiment_rows.extend(family)
        p_family = holm([r["p_ttest"] for r in experiment_rows])
        for r, pf in zip(experiment_rows, p_family, strict=True):
            r.update(p_holm_family=pf, significant=bool(pf < alpha))
        rows.extend(experiment_rows)
    out = pd.DataFrame(rows, columns=_COMPARE_COLS)
    return out.astype({"shared": "bool", "significant": "bool"})


def _aubc_diff(df: pd.DataFrame, strategy: str, baseline: str) -> tuple[float, int]:
    """Mean paired (by seed) AUBC difference over the budgets both share, and the pair count."""
    d = aubc_diffs(df, baseline)
    d = d[d["strategy"] == strategy]
    if d.empty or d["n_pairs"].iloc[0] == 0:
        return np.nan, 0
    return float(d["mean_diff"].iloc[0]), int(d["n_pairs"].iloc[0])


def training_noise(df: pd.DataFrame, baseline: str = "random") -> pd.DataFrame:
    """Per budget: the seed-to-seed std of `baseline`'s metric (the noise the learner itself makes
    with a selection that carries no signal) beside each strategy's mean paired difference from it.

    `ratio` = |mean_diff| / baseline_std: near or below 1, the difference is within training noise.
    """
    cmp = compare(df, baseline=baseline)
    base = df[df["strategy"] == baseline]
    noise = base.groupby(["experiment", "n_labeled"])["value"].agg(["std", "count"])
    noise = noise.rename(columns={"std": "baseline_std", "count": "baseline_seeds"})
    out = cmp[["experiment", "strategy", "n_labeled", "n_pairs", "mean_diff", "shared"]]
    out = out.join(noise, on=["experiment", "n_labeled"])
    out["ratio"] = out["mean_diff"].abs() / out["baseline_std"].where(out["baseline_std"] > 0)
    return out.reset_index(drop=True)


def _wilcoxon_note(n: int, budgets: int, alpha: float) -> str:
    """Say when the Wilcoxon column cannot reach `alpha` whatever the data (exact-test floor)."""
    floor = wilcoxon_floor(n)
    if floor >= alpha:
        return (
            f" [Wilcoxon signed-rank cannot reach p<{alpha} with n={n} pairs: its smallest exact "
            f"two-sided p is 2/2^{n} = {floor:.4g}; run at least 6 seeds]"
        )
    if budgets * floor >= alpha:
        return (
            f" [Holm-adjusted Wilcoxon cannot reach p<{alpha} over {budgets} budgets with n={n} "
            f"pairs: its smallest value is {budgets} x 2/2^{n} = {budgets * floor:.4g}]"
        )
    return ""


def verdicts(df: pd.DataFrame, baseline: str = "random", alpha: float = 0.05) -> pd.DataFrame:
    """One plain-language line per (experiment, strategy) from compare() and the AUBC gap.

    Wins and losses count budgets significant after Holm over the experiment's whole family
    (`FAMILY`: every strategy x budget against the baseline, shared labeled sets excluded); the line
    names the family size when it holds more than this strategy's budgets, and how many unhealthy
    points (`fit_ok` False) the comparison contains.

    Each line also says when a test cannot reach `alpha` whatever the data: no test below 2 pairs,
    and the exact Wilcoxon floor 2/2^n (times m under Holm over m budgets); `wilcoxon_floor` holds
    2/2^n.
    """
    cmp = compare(df, baseline=baseline, alpha=alpha)
    rows = []
    for experiment, exp in df.groupby("experiment", sort=True):
        others = sorted(set(exp["strategy"]) - {baseline, TOPLINE})
        scale = percent_scale(exp["value"])
        unit = "pts" if scale == 100 else exp["metric"].iloc[0]
        for strategy in others:
            c = cmp[(cmp["experiment"] == experiment) & (cmp["strategy"] == strategy)]
            gap, n_aubc = _aubc_diff(exp, strategy, baseline)
            aubc_txt = f"AUBC {gap * scale:+.1f} {unit}" if n_aubc else "AUBC n/a"
            n_seeds = int(c["n_pairs"].max()) if len(c) else 0
            tested = c[c["p_holm_family"].notna()]
            wins = int(((tested["p_holm_family"] < alpha) & (tested["mean_diff"] > 0)).sum())
            losses = int(((tested["p_holm_family"] < alpha) & (tested["mean_diff"] < 0)).sum())
            m = len(tested)
            family = int(cmp.loc[cmp["experiment"] == experiment, "p_holm_family"].notna().sum())
            unhealthy = int(c["unhealthy"].sum())
            if base_missing := not (exp["strategy"] == baseline).any():
                text = f"{strategy}: no {baseline} runs to compare with"
            elif n_seeds < 2:
                text = (
                    f"{strategy} vs {baseline}: too few paired seeds (n={n_seeds}) for a "
                    f"significance test; no test can be significant with fewer than 2 pairs, "
                    f"by construction; {aubc_txt} (run at least 3 seeds)"
                )
            elif m == 0:
                text = (
                    f"{strategy} vs {baseline}: no testable budget (differences identical "
                    f"across seeds); {aubc_txt}"
                )
            elif wins and not losses:
                text = f"{strategy} beats {baseline} at {wins}/{m} budgets (Holm p<{alpha}), {aubc_txt}"
            elif losses and not wins:
                text = (
                    f"{strategy} is worse than {baseline} at {losses}/{m} budgets "
                    f"(Holm p<{alpha}), {aubc_txt}"
                )
            elif wins and losses:
                text = (
                    f"{strategy} vs {baseline}: mixed, better at {wins}/{m} and worse at "
                    f"{losses}/{m} budgets (Holm p<{alpha}), {aubc_txt}"
                )
            else:
                text = (
                    f"{strategy} vs {baseline}: no significant difference at any of {count(m, 'budget')} "
                    f"(Holm p<{alpha}), {aubc_txt}"
                )
            if not base_missing and 2 <= n_seeds < 3:
                text += f" [only {n_seeds} seeds: low power]"
            if not base_missing and n_seeds >= 2:
                text += _wilcoxon_note(n_seeds, max(m, 1), alpha)
            if not base_missing and family > m:
                text += f" [Holm family: {family} tests, every strategy x budget]"
            if unhealthy:
                text += (
                    f" [{count(unhealthy, 'unhealthy point')}: the task model "
                    "did not fit its labeled set; see the warnings]"
                )
            rows.append(
                dict(
                    experiment=experiment,
                    strategy=strategy,
                    baseline=baseline,
                    n_seeds=n_seeds,
                    wins=wins,
                    losses=losses,
                    budgets=m,
                    family=family,
                    unhealthy=unhealthy,
                    aubc_diff=gap * scale if n_aubc else np.nan,
                    wilcoxon_floor=wilcoxon_floor(n_seeds) if n_seeds >= 1 else np.nan,
                    verdict=text,
                )
            )
    cols = ["experiment", "strategy", "baseline", "n_seeds", "wins", "losses", "budgets", "family"]
    cols += ["unhealthy", "aubc_diff", "wilcoxon_floor", "verdict"]
    return pd.DataFrame(rows, columns=cols)


def win_tie_loss(df: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Pairwise wins after Ash et al. 2020 (BADGE): entry (i, j) counts experiment-budgets where
    i beats j by a two-sided paired t-test over seeds, mean difference > 0 and Holm-adjusted
    p < alpha, Holm over every pair x budget of one experiment (budgets where a pair shared its
    labeled set are not tested). `attrs`: `comparisons` (tests made) and `correction`."""
    df = df[df["strategy"] != TOPLINE]
    names = sorted(df["strategy"].unique())
    wins = pd.DataFrame(0, index=pd.Index(names, name="winner"), columns=names)
    comparisons = 0
    for _, exp in df.groupby("experiment", sort=True):
        tests = []
        strategies = sorted(exp["strategy"].unique())
        shared = {
            (i, j): shared_budgets(exp, i, j) for i in strategies for j in strategies if i < j
        }
        for n_labeled, at in exp.groupby("n_labeled", sort=True):
            table = at.pivot_table(index="seed", columns="strategy", values="value", aggfunc="mean")
            for i in table.columns:
                for j in table.columns:
                    if i >= j or n_labeled in shared[(i, j)]:
                        continue
                    pair = table[[i, j]].dropna()
                    test = paired_test(pair[i].to_numpy(), pair[j].to_numpy())
                    if not np.isnan(test["p_ttest"]):
                        tests.append((i, j, test["mean_diff"], test["p_ttest"]))
        adjusted = holm([t[3] for t in tests])
        comparisons += len(tests)
        for (i, j, diff, _), p in zip(tests, adjusted, strict=True):
            if p < alpha:
                winner, loser = (i, j) if diff > 0 else (j, i)
                wins.loc[winner, loser] += 1
    wins.attrs["comparisons"] = comparisons
    wins.attrs["correction"] = "Holm over every pair x budget of an experiment"
    return wins
