"""TypiClust by its authors' rules (avihu111/TypiClust, deep-al/pycls/al/typiclust.py), pinned
by picks worked out by hand on tiny 2-d point sets with hand-made cluster labels.

The rules: typicality = 1 / (mean SQUARED distance to the K nearest + 1e-5), K = min(knn,
members left // 2), computed at every pick over the cluster's images still unlabeled; clusters of
more than `min_size` images, sorted once (fewest labeled, then larger, then lower id), visited
round robin. Where the authors' code crashes, the documented fallbacks are pinned too.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from baselines.typiclust import (
    AUTHORS_EPS,
    TypiClustOptions,
    authors_picks,
    authors_typicality,
    cluster_order,
)
from tests.helpers import tiny_spec
from vaal_core.errors import SpecError
from vaal_core.run.loop import ActiveLoop, preflight
from vaal_core.strategies import make_strategy


def on_a_line(xs, y=0.0) -> torch.Tensor:
    """2-d points (x, y) for the given x: hand-computable distances."""
    return torch.tensor([[x, y] for x in xs], dtype=torch.float64)


def clusters(sizes: dict[int, int], labeled: dict[int, int]):
    """Features, cluster labels and labeled mask: cluster c holds sizes[c] points on the row
    y = 100 c (clearly apart), its first labeled.get(c, 0) members labeled."""
    feats, labels, is_lab = [], [], []
    for c, n in sizes.items():
        feats.append(on_a_line([j + 0.1 * j * j for j in range(n)], y=100.0 * c))
        labels += [c] * n
        is_lab += [j < labeled.get(c, 0) for j in range(n)]
    return torch.cat(feats), np.array(labels), np.array(is_lab)


def one_cluster(n: int) -> np.ndarray:
    return np.zeros(n, dtype=np.int64)


# ---------------------------------------------------------------- typicality
def test_typicality_uses_squared_distances():
    # x = 0, 10, 20, 37, 39; 5 members, knn 20 -> K = min(20, 5 // 2) = 2. Squared distances to
    # the two nearest, and their mean:
    #   0: 100, 400 -> 250      10: 100, 100 -> 100      20: 100, 289 -> 194.5
    #   37: 4, 289 -> 146.5     39: 4, 361 -> 182.5
    # squared: 10 is the most typical. Plain distances would give 10: (10+10)/2 = 10 but
    # 37: (2+17)/2 = 9.5, and 37 would win.
    x = on_a_line([0, 10, 20, 37, 39])
    typ = authors_typicality(x, knn=20, chunk=2)  # chunk 2 forces the blockwise path
    expected = [1 / (m + AUTHORS_EPS) for m in (250, 100, 194.5, 146.5, 182.5)]
    assert typ.tolist() == pytest.approx(expected, rel=1e-12)
    no_labels = np.zeros(5, dtype=bool)
    assert authors_picks(x, one_cluster(5), no_labels, 1, knn=20, min_size=4).tolist() == [1]


def test_epsilon_is_the_authors_for_duplicates():
    # two identical points and a third 3 away: K = min(20, 3 // 2) = 1; the duplicates' mean
    # squared distance is 0, so their typicality is 1 / 1e-5, the third's 1 / (9 + 1e-5)
    typ = authors_typicality(on_a_line([5, 5, 8]), knn=20, chunk=8)
    assert typ.tolist() == pytest.approx([1e5, 1e5, 1 / (9 + 1e-5)], rel=1e-12)


def test_neighbour_count_is_half_the_members_left_capped_by_knn():
    # x = 0, 1, 2, 6: 4 members -> K = min(knn, 4 // 2)
    #   knn 20 -> K = 2: 0: (1+4)/2 = 2.5   1: (1+1)/2 = 1   2: (1+4)/2 = 2.5   6: (16+25)/2 = 20.5
    #     -> 1 is the most typical (with K = min(20, 4 - 1) = 3, 2 would be: 21/3 = 7 < 27/3 = 9)
    #   knn 1 -> K = 1: 0, 1 and 2 each have a neighbour at squared distance 1: a tie, and the
    #     lowest position wins
    x = on_a_line([0, 1, 2, 6])
    no_labels = np.zeros(4, dtype=bool)
    assert authors_typicality(x, knn=20, chunk=8).tolist() == pytest.approx(
        [1 / (m + AUTHORS_EPS) for m in (2.5, 1, 2.5, 20.5)], rel=1e-12
    )
    assert authors_picks(x, one_cluster(4), no_labels, 1, knn=20, min_size=1).tolist() == [1]
    assert authors_picks(x, one_cluster(4), no_labels, 1, knn=1, min_size=1).tolist() == [0]
    # one member left: K = 1 // 2 = 0, no neighbours; it is the only choice
    assert authors_typicality(on_a_line([3]), knn=20, chunk=8).tolist() == [0.0]


def test_typicality_is_recomputed_over_the_unlabeled_members_left():
    # one cluster of 6 (> 5): position 0 is labeled (x = 10.5), positions 1-5 are x = 0, 1, 2, 10, 11.
    # Pick 1, over the 5 unlabeled members (K = 2), squared distances to the two nearest:
    #   0: 1, 4 -> 2.5   1: 1, 1 -> 1   2: 1, 4 -> 2.5   10: 1, 64 -> 32.5   11: 1, 81 -> 41
    #   -> x = 1 (position 2). Had the labeled 10.5 counted, 10 would be densest (0.25, 1 -> 0.625).
    # Pick 2, over the 4 left (K = 2):
    #   0: 4, 100 -> 52   2: 4, 64 -> 34   10: 1, 64 -> 32.5   11: 1, 81 -> 41
    #   -> x = 10 (position 4); typicality kept from pick 1 would have taken 0 or 2 (2.5).
    x = on_a_line([10.5, 0, 1, 2, 10, 11])
    is_lab = np.array([True, False, False, False, False, False])
    assert authors_picks(x, one_cluster(6), is_lab, 2, knn=20, min_size=5).tolist() == [2, 4]


# ---------------------------------------------------------------- which cluster, in what order
def test_clusters_above_min_size_sorted_once_and_visited_round_robin():
    # cluster: size, labeled -> (labeled, -size, id)
    #   0: 7, 2 -> (2, -7)   1: 6, 0 -> (0, -6)   2: 5, 0 -> (0, -5)   3: 8, 0 -> (0, -8)
    #   4: 7, 1 -> (1, -7)
    # sorted once: 3, 1, 2, 4, 0; cluster 2 has 5 images, not more than 5: out of the rotation
    # (uncovered though it is; 1, with 6, is in). Round robin: 3, 1, 4, 0, 3, 1, 4, 0.
    # (Fewest labeled at every pick would give 3, 1, then 3 or 1 again before 4 and 0.)
    feats, labels, is_lab = clusters({0: 7, 1: 6, 2: 5, 3: 8, 4: 7}, {0: 2, 4: 1})
    ids, sizes = cluster_order(labels, is_lab)
    assert ids.tolist() == [3, 1, 2, 4, 0] and sizes.tolist() == [8, 6, 5, 7, 7]
    picks = authors_picks(feats, labels, is_lab, 8, knn=20, min_size=5)
    assert labels[picks].tolist() == [3, 1, 4, 0, 3, 1, 4, 0]
    assert len(set(picks.tolist())) == 8 and not is_lab[picks].any()


def test_budget_beyond_a_cluster_skips_it_then_visits_the_small_clusters():
    # The authors' code fails here ("argmax of an empty sequence") at its third pick: cluster 3 is
    # labeled entirely. Sorted: 0 (0, -6), 2 (0, -3), 1 (5, -7), 3 (6, -6); rotation 0, 1, 3;
    # small: 2. Cluster 3 has nothing to give, 1 runs dry after two picks, 0 after six; then 2.
    feats, labels, is_lab = clusters({0: 6, 1: 7, 2: 3, 3: 6}, {1: 5, 3: 6})
    picks = authors_picks(feats, labels, is_lab, 11, knn=20, min_size=5)  # every unlabeled image
    assert labels[picks].tolist() == [0, 1, 0, 1, 0, 0, 0, 0, 2, 2, 2]
    assert sorted(picks.tolist()) == np.flatnonzero(~is_lab).tolist()
    with pytest.raises(ValueError, match="budget 12 exceeds the 11 unlabeled"):
        authors_picks(feats, labels, is_lab, 12, knn=20, min_size=5)


def test_no_cluster_above_min_size_uses_the_small_ones():
    # the authors' code divides by zero (no cluster of more than 5); here the small ones take
    # their place, sorted the same way: 0 (0 labeled), 1 (1 labeled) -> 0, 1, 0, 1, 0
    feats, labels, is_lab = clusters({0: 3, 1: 3}, {1: 1})
    picks = authors_picks(feats, labels, is_lab, 5, knn=20, min_size=5)
    assert labels[picks].tolist() == [0, 1, 0, 1, 0]


def test_cluster_ids_with_a_gap_keep_their_own_labeled_counts():
    # ids 0, 2, 5 (1, 3, 4 empty, as k-means may leave them); one labeled image, in cluster 2.
    # Per id: 0 (0, -6), 2 (1, -7), 5 (0, -6) -> 0, 5, 2. The authors' bincount by position
    # would hand 2's count to 5 and visit 2, 0, 5.
    feats, labels, is_lab = clusters({0: 6, 2: 7, 5: 6}, {2: 1})
    picks = authors_picks(feats, labels, is_lab, 3, knn=20, min_size=5)
    assert labels[picks].tolist() == [0, 5, 2]


# ---------------------------------------------------------------- the option
def test_variant_option_defaults_to_the_authors_and_leaves_the_spec_bytes_alone():
    assert make_strategy("typiclust", tiny_spec()).options.variant == "authors"
    assert "typiclust_variant" not in tiny_spec().to_dict()["baselines"]
    spec = tiny_spec(baselines={"typiclust_variant": "suite"})
    assert make_strategy("typiclust", spec).options == TypiClustOptions(variant="suite")
    assert spec.hash() != tiny_spec().hash()
    with pytest.raises(SpecError, match=r"'baselines.typiclust_variant' is 'paper'; valid"):
        preflight(tiny_spec(baselines={"typiclust_variant": "paper"}), "random")


def test_the_suite_variant_keeps_the_selections_recorded_before_the_authors_rules(mnist, tmp_path):
    # the sha1s of cycles 0 and 1 of the tiny MNIST run, pinned for `typiclust` while the suite's
    # reading was the only one (tests/test_selection_pins.py before the authors' rules)
    baselines = {"mc_samples": 3, "ensemble_size": 2, "typiclust_variant": "suite"}
    recs = ActiveLoop(
        tiny_spec(baselines=baselines), "typiclust", 0, tmp_path, progress=False, data=mnist
    ).run()
    assert [r["selected_sha1"] for r in recs if r["selected_sha1"] is not None] == [
        "b2e873860b6214f54c08eb8007803c770db64e3c",
        "eb963a297e43e8429266e4b26bf6d4cfec50a18c",
    ]
