"""Pool invariants and the initial/validation splits."""

from __future__ import annotations

import numpy as np
import pytest

from vaal_core.run.pool import Pool, initial_labeled, split_indices


def test_label_moves_indices_between_sets():
    pool = Pool(np.arange(100, 200), labeled=np.array([150, 101]))
    assert pool.n_labeled == 2 and len(pool.unlabeled) == 98
    pool.label(np.array([120, 130]))
    assert set(pool.labeled) == {101, 120, 130, 150}
    assert set(pool.labeled).isdisjoint(pool.unlabeled)
    assert set(pool.labeled) | set(pool.unlabeled) == set(range(100, 200))


@pytest.mark.parametrize(
    "bad, msg", [([150], "already labeled"), ([5], "not in the pool"), ([120, 120], "duplicate")]
)
def test_label_rejects_bad_indices(bad, msg):
    pool = Pool(np.arange(100, 200), labeled=np.array([150]))
    with pytest.raises(ValueError, match=msg):
        pool.label(np.array(bad))
    assert pool.n_labeled == 1


def test_state_dict_round_trip():
    pool = Pool(np.arange(50), labeled=np.array([3, 7]))
    again = Pool.from_state_dict(pool.state_dict())
    assert np.array_equal(again.labeled, pool.labeled) and np.array_equal(
        again.candidates, pool.candidates
    )


def test_splits_are_disjoint_and_depend_on_the_right_keys():
    cand0, val0 = split_indices("mnist", 60000, pool_size=1000, pool_seed=0, val_size=100, seed=0)
    cand1, val1 = split_indices("mnist", 60000, pool_size=1000, pool_seed=0, val_size=100, seed=1)
    assert len(cand0) == 1000 and len(val0) == 100 and not set(cand0) & set(val0)
    # the subsample (pool + val) is fixed per dataset; seeds only move the validation split inside it
    assert set(cand0) | set(val0) == set(cand1) | set(val1)
    assert not np.array_equal(val0, val1)
    init_a = initial_labeled("mnist", cand0, 50, seed=0)
    init_b = initial_labeled("mnist", cand0, 50, seed=0)
    init_c = initial_labeled("mnist", cand0, 50, seed=1)
    assert np.array_equal(init_a, init_b) and not np.array_equal(init_a, init_c)
    assert set(init_a) <= set(cand0)


def test_initial_larger_than_pool_is_an_error():
    with pytest.raises(ValueError, match="larger than the pool"):
        initial_labeled("mnist", np.arange(10), 11, seed=0)
