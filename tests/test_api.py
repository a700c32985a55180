"""The Python API: a strategy asked for indices with one's own model and data (vaal_core.api)."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import Subset, TensorDataset

from vaal_core.api import get_strategy, in_memory_data
from vaal_core.errors import DatasetError, SpecError

N_LABELED, N_UNLABELED, BUDGET = 60, 400, 30
VAAL_OPTIONS = {"width": 8, "epochs": 0.3, "batch_size": 64}


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(4), nn.Flatten(), nn.Linear(256, 10)
    )


@pytest.fixture(scope="module")
def split(mnist):
    """(model, unlabeled images, (labeled images, labels)) from the real MNIST, uint8 32x32."""
    x, y = mnist.train_x[: N_LABELED + N_UNLABELED], mnist.train_y[: N_LABELED + N_UNLABELED]
    model = _model()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(30):  # a model that has learnt something: its entropies differ
        opt.zero_grad()
        nn.functional.cross_entropy(model(x[:N_LABELED].float() / 255), y[:N_LABELED]).backward()
        opt.step()
    return model.eval(), x[N_LABELED:], (x[:N_LABELED], y[:N_LABELED])


@pytest.mark.parametrize(
    "name, options", [("random", None), ("entropy", None), ("vaal", VAAL_OPTIONS)]
)
def test_a_strategy_picks_budget_distinct_unlabeled_indices_the_same_way_twice(
    split, name, options
):
    model, unlabeled, labeled = split
    picked = get_strategy(name, options=options).select_from(
        model, unlabeled, labeled, BUDGET, seed=3
    )
    assert picked.dtype == np.int64 and picked.ndim == 1 and len(picked) == BUDGET
    assert len(np.unique(picked)) == BUDGET and picked.min() >= 0 and picked.max() < N_UNLABELED
    again = get_strategy(name, options=options).select_from(
        model, unlabeled, labeled, BUDGET, seed=3
    )
    np.testing.assert_array_equal(picked, again)


def test_another_seed_or_cycle_draws_other_indices(split):
    model, unlabeled, labeled = split
    strategy = get_strategy("random")
    first = strategy.select_from(model, unlabeled, labeled, BUDGET, seed=0)
    assert not np.array_equal(
        first, strategy.select_from(model, unlabeled, labeled, BUDGET, seed=1)
    )
    assert not np.array_equal(
        first, strategy.select_from(model, unlabeled, labeled, BUDGET, seed=0, cycle=1)
    )


def test_entropy_picks_the_unlabeled_images_the_model_is_least_sure_of(split):
    """Indices point into the unlabeled data (not the combined set) and follow the model."""
    model, unlabeled, labeled = split
    picked = get_strategy("entropy").select_from(model, unlabeled, labeled, BUDGET)
    with torch.no_grad():
        p = model(unlabeled.float() / 255).softmax(1)
    entropy = -(p * p.clamp_min(1e-12).log()).sum(1)
    top = torch.argsort(entropy, descending=True)[:BUDGET].numpy()
    np.testing.assert_array_equal(picked, np.sort(top))


def test_normalisation_reaches_the_model(split):
    """`mean`/`std` standardise what the model sees: another normalisation, other picks."""
    model, unlabeled, labeled = split
    strategy = get_strategy("entropy")
    plain = strategy.select_from(model, unlabeled, labeled, BUDGET)
    shifted = strategy.select_from(model, unlabeled, labeled, BUDGET, mean=[0.5], std=[0.25])
    assert not np.array_equal(plain, shifted)


def test_datasets_of_float_images_pick_as_the_uint8_tensors(split):
    """A torch Dataset of ToTensor-like floats in [0, 1] (with labels) is the same data."""
    model, unlabeled, (lab_x, lab_y) = split
    as_floats = TensorDataset(unlabeled.float() / 255, torch.zeros(len(unlabeled)))
    labeled_set = Subset(TensorDataset(lab_x.float() / 255, lab_y), range(N_LABELED))
    data = in_memory_data(as_floats, labeled_set)
    assert data.train_x.dtype == torch.uint8  # stored losslessly as pixels
    torch.testing.assert_close(data.train_x, torch.cat([lab_x, unlabeled]))
    assert data.train_y[:N_LABELED].tolist() == lab_y.tolist()
    assert (data.train_y[N_LABELED:] == -1).all()  # the unlabeled images' labels stay unknown
    strategy = get_strategy("entropy")
    np.testing.assert_array_equal(
        strategy.select_from(model, as_floats, labeled_set, BUDGET),
        strategy.select_from(model, unlabeled, (lab_x, lab_y), BUDGET),
    )


def test_the_callers_random_state_is_left_alone(split):
    model, unlabeled, labeled = split
    torch.manual_seed(11)
    random.seed(11)
    np.random.seed(11)
    expected = (torch.rand(1), random.random(), np.random.rand())
    torch.manual_seed(11)
    random.seed(11)
    np.random.seed(11)
    get_strategy("vaal", options=VAAL_OPTIONS).select_from(model, unlabeled, labeled, BUDGET)
    assert (torch.rand(1), random.random(), np.random.rand()) == expected


def test_options_reach_the_strategy_by_their_short_names():
    vaal = get_strategy("vaal", options={"width": 8}, spec_overrides=["vaal.latent_dim=16"])
    assert vaal.strategy.options.width == 8 and vaal.strategy.options.latent_dim == 16
    mc = get_strategy("mc_dropout", options={"mc_samples": 4})
    assert mc.strategy.options.mc_samples == 4
    typiclust = get_strategy("typiclust", options={"knn": 7})  # its prefix is added
    assert typiclust.strategy.options.knn == 7
    assert typiclust.spec.to_dict()["baselines"]["typiclust_knn"] == 7
    assert (
        get_strategy(
            "random", spec_overrides={"task.eval_batch_size": 64}
        ).spec.task.eval_batch_size
        == 64
    )


@pytest.mark.parametrize(
    "call, expected",
    [
        (lambda: get_strategy("entropi"), "did you mean 'entropy'"),
        (lambda: get_strategy("vaal", options={"widht": 8}), "did you mean 'width'"),
        (lambda: get_strategy("typiclust", options={"knn": 0}), "typiclust_knn"),
        (lambda: get_strategy("vaal", options={"width": 0}), "vaal.width"),
    ],
)
def test_a_mistyped_name_or_option_is_a_spec_error_naming_the_fix(call, expected):
    with pytest.raises(SpecError, match=expected):
        call()


def test_bad_data_and_budgets_are_expected_errors(split):
    model, unlabeled, (lab_x, lab_y) = split
    strategy = get_strategy("random")
    with pytest.raises(DatasetError, match="no labels"):
        strategy.select_from(model, unlabeled, lab_x, BUDGET)
    with pytest.raises(DatasetError, match="square"):
        strategy.select_from(model, unlabeled[..., :30], (lab_x[..., :30], lab_y), BUDGET)
    with pytest.raises(SpecError, match="larger than"):
        strategy.select_from(model, unlabeled, (lab_x, lab_y), N_UNLABELED + 1)
