"""VAAL's diagnostics on inputs whose answers are known by construction."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vaal_core.vaal.metrics import (
    accuracy_at_half,
    active_units,
    auc_chance_band,
    average_ranks,
    roc_auc,
)


def test_auc_of_a_perfect_separator_is_one_and_of_a_reversed_one_zero():
    assert roc_auc([0.9, 0.8, 0.7], [0.1, 0.2]) == 1.0
    assert roc_auc([0.1, 0.2], [0.9, 0.8, 0.7]) == 0.0
    assert accuracy_at_half([0.9, 0.8], [0.1, 0.2]) == 1.0


def test_auc_counts_ties_half_and_matches_pair_counting():
    assert roc_auc([0.5, 0.5], [0.5]) == 0.5
    pos, neg = [0.3, 0.6, 0.9], [0.2, 0.6, 0.8]
    # pairs: 0.3>{0.2}:1; 0.6>{0.2}+tie{0.6}: 1.5; 0.9>all: 3 -> 5.5 of 9
    assert roc_auc(pos, neg) == pytest.approx(5.5 / 9)


def test_auc_of_a_scorer_at_chance_stays_in_the_chance_band():
    rng = np.random.default_rng(0)
    pos, neg = rng.random(2000), rng.random(3000)
    band = auc_chance_band(2000, 3000)
    assert band == pytest.approx(1.96 * (5001 / (12 * 2000 * 3000)) ** 0.5)
    assert abs(roc_auc(pos, neg) - 0.5) < band
    assert roc_auc(pos + 0.2, neg) - 0.5 > band  # a real shift leaves it


def test_active_units_on_a_hand_made_posterior():
    g = torch.Generator().manual_seed(0)
    mu = torch.zeros(500, 6)
    mu[:, 0] = torch.randn(500, generator=g)  # var ~1: active
    mu[:, 1] = 0.5 * torch.randn(500, generator=g)  # var ~0.25: active
    mu[:, 2] = 0.05 * torch.randn(500, generator=g)  # var ~0.0025: collapsed
    mu[:, 3] = 3.0  # constant: collapsed
    assert active_units(mu) == 2
    assert active_units(mu[:1]) == 0


def test_average_ranks_match_scipy_with_ties():
    from scipy.stats import rankdata

    x = np.array([3.0, 1.0, 3.0, 2.0, 3.0, 0.5, 2.0])
    assert average_ranks(x).tolist() == [6.0, 2.0, 6.0, 3.5, 6.0, 1.0, 3.5]
    y = np.random.default_rng(0).integers(0, 20, 500).astype(float)
    assert np.array_equal(average_ranks(y), rankdata(y))
