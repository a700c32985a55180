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

from baselines.badge import (  # noqa: E402
    badge_seeding,
    factored_sq_distances,
    gradient_factors,
    gradient_sq_norms,
)
from baselines.coreset import k_center_greedy  # noqa: E402
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


# ---------------------------------------------------------------- BADGE by its reference's rules
# JordanAsh/badge, query_strategies/badge_sampling.py (a2d18ac): g = (p - onehot(argmax p)) (x) h
# (their sign is flipped: the distances are the same); the first centre has the largest ||g||;
# each next one is drawn with probability D^2 / sum D^2, D the distance to the nearest centre.
BADGE_P = [[0.9, 0.1], [0.5, 0.5], [0.2, 0.8], [0.6, 0.4]]
BADGE_H = [[1.0, 0.0], [0.0, 2.0], [1.0, 1.0], [0.0, 2.0]]


def test_badge_gradient_embedding_by_hand():
    # a = p - onehot(argmax p) (a tie, image 1, takes the first class, as argmax does):
    #   0: (-0.1, 0.1)  1: (-0.5, 0.5)  2: (0.2, -0.2)  3: (-0.4, 0.4)
    # ||g||^2 = ||a||^2 ||h||^2: 0.02 x 1 = 0.02, 0.5 x 4 = 2, 0.08 x 2 = 0.16, 0.32 x 4 = 1.28
    a = gradient_factors(torch.tensor(BADGE_P, dtype=torch.float64))
    h = torch.tensor(BADGE_H, dtype=torch.float64)
    assert a.numpy() == pytest.approx(
        np.array([[-0.1, 0.1], [-0.5, 0.5], [0.2, -0.2], [-0.4, 0.4]])
    )
    assert gradient_sq_norms(a, h).tolist() == pytest.approx([0.02, 2.0, 0.16, 1.28])
    # squared distances to image 1, g_1 = (0, -1, 0, 1) (class-major blocks a_c h):
    #   g_0 = (-0.1, 0, 0.1, 0): 0.01 + 1 + 0.01 + 1 = 2.02
    #   g_2 = (0.2, 0.2, -0.2, -0.2): 0.04 + 1.44 + 0.04 + 1.44 = 2.96
    #   g_3 = (0, -0.8, 0, 0.8): 0.04 + 0.04 = 0.08
    assert factored_sq_distances(a, h, 1).tolist() == pytest.approx([2.02, 0.0, 2.96, 0.08])


def _draw(bins: list[float], u: float) -> int:
    """The bin that u (uniform on [0, sum)) falls in: inverse-CDF draw of P(i) = bins[i] / sum."""
    return int(np.searchsorted(np.cumsum(bins), u, side="right"))


@pytest.mark.parametrize("seed", range(12))
def test_badge_seeding_draws_by_squared_distance_by_hand(seed):
    # pick 1: image 1 (largest ||g||^2 = 2). Pick 2: D^2 = (2.02, 0, 2.96, 0.08), sum 5.06.
    # If image 2 came second, D^2 = min(D^2, distance^2 to g_2): image 0: |g_0 - g_2|^2 =
    # 0.09 + 0.04 + 0.09 + 0.04 = 0.26; image 3: min(0.08, 0.04 + 1 + 0.04 + 1) = 0.08; sum 0.34.
    # If image 0 came second: image 2: min(2.96, 0.26) = 0.26; image 3: min(0.08, |g_3 - g_0|^2 =
    # 0.01 + 0.64 + 0.01 + 0.64 = 1.3) = 0.08. If image 3: image 0: min(2.02, 1.3) = 1.3;
    # image 2: min(2.96, |g_2 - g_3|^2 = 2.08) = 2.08.
    a = gradient_factors(torch.tensor(BADGE_P, dtype=torch.float64))
    h = torch.tensor(BADGE_H, dtype=torch.float64)
    gen = torch.Generator().manual_seed(seed)
    r1, r2 = (float(torch.rand((), generator=gen, dtype=torch.float64)) for _ in range(2))
    second = _draw([2.02, 0.0, 2.96, 0.08], r1 * 5.06)
    third_bins = {
        0: [0.0, 0.0, 0.26, 0.08],
        2: [0.26, 0.0, 0.0, 0.08],
        3: [1.3, 0.0, 2.08, 0.0],
    }[second]
    third = _draw(third_bins, r2 * sum(third_bins))
    picks = badge_seeding(a, h, 3, torch.Generator().manual_seed(seed))
    assert picks.tolist() == [1, second, third]


def test_badge_seeding_after_all_mass_is_spent_takes_the_rest_in_order():
    # four copies of one embedding: after the first centre every D^2 is 0 (the reference code
    # divides by zero); the rest follow in position order
    a = gradient_factors(torch.tensor([[0.7, 0.3]] * 4, dtype=torch.float64))
    h = torch.ones(4, 3, dtype=torch.float64)
    assert badge_seeding(a, h, 4, torch.Generator().manual_seed(0)).tolist() == [0, 1, 2, 3]


# ---------------------------------------------------------------- core-set by its reference's rules
def test_k_center_greedy_from_an_empty_labeled_set_starts_at_the_first_position():
    # ozansener/active_learning_coreset and JordanAsh/badge `furthest_first`: every distance to
    # the (empty) centre set is infinite, and argmax takes position 0 (x = 0). Then the farthest
    # from the centres so far: x = 2, 3, 9 are 2, 3, 9 away -> 9; then x = 2 is min(2, 7) = 2
    # away, x = 3 is min(3, 6) = 3 away -> x = 3 (position 2).
    x = torch.tensor([[0.0, 0.0], [2.0, 0.0], [3.0, 0.0], [9.0, 0.0]])
    assert k_center_greedy(x, np.zeros(4, dtype=bool), 3).tolist() == [0, 3, 2]
