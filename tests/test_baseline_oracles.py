"""The uncertainty scores against an independent implementation: baal's heuristics
(baal-org/baal, `baal.active.heuristics`), on seeded probability arrays, to float precision.

baal's layout is [N, C, ..., T] (T stochastic passes last); the suite's passes are [T, N, C].
baal ranks by score with `np.argsort`, so its order within exact ties follows positions; the
suite's `top_k` breaks ties by a seeded permutation instead (baselines/scores.py), which is
pinned here too. baal has no variation ratio or vote entropy; both are functions of the vote
shares, which are baal's mean prediction over one-hot votes: the variation ratio is 1 - baal's
`Certainty` of them, the vote entropy baal's `Entropy` of them.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

heuristics = pytest.importorskip(
    "baal.active.heuristics", reason="baal is a dev dependency: pip install -e '.[dev]'"
)

from baselines.scores import (  # noqa: E402
    bald_score,
    entropy_score,
    least_confidence_score,
    margin_score,
    top_k,
    variation_ratio,
)
from vaal_core.tasks.segmentation import pixel_entropy, vote_entropy  # noqa: E402

N, C, T = 40, 6, 8
TIGHT = {"rel": 1e-12, "abs": 1e-14}  # float64 agreement


def probabilities(seed: int, shape: tuple[int, ...], concentration: float = 0.7) -> np.ndarray:
    """Seeded Dirichlet rows (classes on the last axis), float64."""
    rng = np.random.default_rng(seed)
    return rng.dirichlet(np.full(shape[-1], concentration), size=shape[:-1])


def with_ties(p: np.ndarray) -> tuple[np.ndarray, list[list[int]]]:
    """`p` (rows on axis 0) with exact ties planted: rows 3 and 17 copies of row 9, row 25 a copy
    of row 30; the tied groups."""
    p = p.copy()
    p[3] = p[17] = p[9]
    p[25] = p[30]
    return p, [[3, 9, 17], [25, 30]]


# ---------------------------------------------------------------- one pass: [N, C]
SINGLE_PASS = [
    # suite score, baal heuristic, suite score as a function of baal's
    ("entropy", entropy_score, heuristics.Entropy, lambda s: s),
    ("margin", margin_score, heuristics.Margin, lambda s: -s),  # baal: top1 - top2, ascending
    ("least_confidence", least_confidence_score, heuristics.Certainty, lambda s: 1.0 - s),
]


@pytest.mark.parametrize("name, score, heuristic, from_baal", SINGLE_PASS)
def test_single_pass_scores_equal_baals(name, score, heuristic, from_baal):
    p, _ = with_ties(probabilities(0, (N, C)))
    ours = score(torch.from_numpy(p)).numpy()
    theirs = heuristic().get_uncertainties(p)
    assert ours == pytest.approx(from_baal(theirs), **TIGHT)
    p32 = p.astype(np.float32)  # the task model's softmax is float32
    ours32 = score(torch.from_numpy(p32)).numpy()
    assert ours32 == pytest.approx(
        from_baal(heuristic().get_uncertainties(p32)), rel=2e-6, abs=1e-6
    )


@pytest.mark.parametrize("name, score, heuristic, from_baal", SINGLE_PASS)
def test_ranking_equals_baals_and_ties_follow_the_seeded_order(name, score, heuristic, from_baal):
    p, tied = with_ties(probabilities(1, (N, C)))
    scores = score(torch.from_numpy(p)).numpy()
    for group in tied:  # exact ties stay exact: bit-identical rows, bit-identical scores
        assert len({scores[i] for i in group}) == 1
    ranks = top_k(scores, N, np.random.default_rng(7))
    baal_ranks = heuristic()(p)
    # the same order of scores as baal's ranking, most worth labeling first ...
    assert scores[ranks].tolist() == scores[baal_ranks].tolist()
    # ... and where baal keeps no order of its own (ties), the suite's is the seeded permutation
    # drawn from the strategy's generator (baselines/scores.py `top_k`), not the position
    perm = np.random.default_rng(7).permutation(N)
    for group in tied:
        in_ranks = [i for i in ranks.tolist() if i in group]
        assert in_ranks == sorted(group, key=lambda i: perm[i])
    # a cut inside a tie keeps the group's member first in that permutation
    group = tied[0]
    winner = min(group, key=lambda i: perm[i])
    k = ranks.tolist().index(winner) + 1
    cut = top_k(scores, k, np.random.default_rng(7))
    assert cut[-1] == winner and not (set(group) - {winner}) & set(cut.tolist())


def test_tie_order_depends_on_the_seed_not_on_the_position():
    flat = np.full(6, 0.25)  # all tied, as votes often are
    orders = {tuple(top_k(flat, 6, np.random.default_rng(s)).tolist()) for s in range(10)}
    assert len(orders) > 1  # not the positions' order whatever the seed
    assert top_k(flat, 3, np.random.default_rng(4)).tolist() == (
        np.argsort(np.random.default_rng(4).permutation(6))[:3].tolist()
    )


# ---------------------------------------------------------------- T stochastic passes
def mc_passes(seed: int) -> tuple[np.ndarray, list[list[int]]]:
    """[T, N, C] seeded pass probabilities with whole images tied (all T passes copied)."""
    p = probabilities(seed, (N, T, C))  # images first, so `with_ties` copies all T passes
    p, tied = with_ties(p)
    return np.ascontiguousarray(p.transpose(1, 0, 2)), tied


def test_mc_dropout_entropy_equals_baals_entropy_of_the_mean():
    passes, tied = mc_passes(2)
    # what the classification summary computes (vaal_core/tasks/classification.py): the mean
    # softmax over the T passes, then `mc_dropout`'s score: its entropy
    ours = entropy_score(torch.from_numpy(passes).mean(0)).numpy()
    theirs = heuristics.Entropy().get_uncertainties(passes.transpose(1, 2, 0))  # [N, C, T]
    assert ours == pytest.approx(theirs, **TIGHT)
    ranks = top_k(ours, N, np.random.default_rng(3))
    assert ours[ranks].tolist() == ours[heuristics.Entropy()(passes.transpose(1, 2, 0))].tolist()


def test_bald_equals_baals():
    passes, tied = mc_passes(3)
    p = torch.from_numpy(passes)
    # the summary's two reductions: mean softmax, and mean over passes of each pass's entropy
    ours = bald_score(p.mean(0), entropy_score(p).mean(0)).numpy()
    theirs = heuristics.BALD().get_uncertainties(passes.transpose(1, 2, 0))
    assert ours == pytest.approx(theirs, rel=1e-10, abs=1e-13)
    assert (ours > -1e-12).all()  # mutual information is not negative
    for group in tied:
        assert len({ours[i] for i in group}) == 1
    ranks = top_k(ours, N, np.random.default_rng(5))
    assert ours[ranks].tolist() == pytest.approx(
        ours[heuristics.BALD()(passes.transpose(1, 2, 0))].tolist(), rel=1e-10, abs=1e-13
    )


# ---------------------------------------------------------------- votes
def test_variation_ratio_is_one_minus_baals_certainty_of_the_vote_shares():
    rng = np.random.default_rng(4)
    m = 5
    votes = rng.integers(0, C, size=(m, N))
    votes[:, 0] = 2  # unanimous: 0
    votes[:, 1] = [0, 1, 2, 3, 4]  # all different: 1 - 1/5
    one_hot = np.moveaxis(np.eye(C)[votes], 0, -1)  # [N, C, M]
    ours = variation_ratio(torch.from_numpy(votes), C).numpy()
    theirs = 1.0 - heuristics.Certainty().get_uncertainties(one_hot)
    assert ours == pytest.approx(theirs, **TIGHT)
    assert ours[:2].tolist() == pytest.approx([0.0, 0.8])


def test_vote_entropy_is_baals_entropy_of_the_vote_shares_per_pixel():
    rng = np.random.default_rng(5)
    b, h, w = 3, 4, 5
    votes = rng.integers(0, C, size=(T, b, h, w))  # T committee members' per-pixel classes
    one_hot = np.moveaxis(np.eye(C)[votes], -1, 2)  # [T, B, C, H, W]
    counts = torch.from_numpy(one_hot.sum(0))  # [B, C, H, W]: what the committee's pass sums
    ours = vote_entropy(counts, T).double().numpy()
    theirs = heuristics.Entropy().get_uncertainties(np.moveaxis(one_hot, 0, -1))  # [B,C,H,W,T]
    assert ours == pytest.approx(theirs, rel=1e-6, abs=1e-7)  # the suite's maps are float32


def test_pixel_entropy_of_the_mc_mean_equals_baals():
    p = probabilities(6, (T, 2, 3, 4, C))  # [T, B, H, W, C]
    p = np.moveaxis(p, -1, 2)  # [T, B, C, H, W]
    ours = pixel_entropy(torch.from_numpy(p).mean(0)).numpy()
    theirs = heuristics.Entropy().get_uncertainties(np.moveaxis(p, 0, -1))
    assert ours == pytest.approx(theirs, **TIGHT)
