"""What each baseline strategy means, pinned by values worked out by hand, and the shared
machinery (cached inference, MC-dropout mode, budget/selection checks, capabilities)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from baselines.badge import badge_seeding, factored_sq_distances, gradient_factors
from baselines.coreset import k_center_greedy
from baselines.scores import (
    bald_score,
    entropy_score,
    least_confidence_score,
    margin_score,
    top_k,
    variation_ratio,
)
from baselines.typiclust import typicality, typiclust_picks
from tests.helpers import tiny_spec
from vaal_core.datasets import ImageData
from vaal_core.models import TASK_MODELS, build_task_model
from vaal_core.run.loop import preflight
from vaal_core.run.pool import Pool
from vaal_core.run.round import Round
from vaal_core.spec import SpecError
from vaal_core.strategies import (
    QueryContext,
    check_selection,
    check_strategy_supports,
    make_strategy,
)
from vaal_core.tasks.classification import (
    last_linear,
    logits_and_embeddings,
    mc_dropout_summary,
    mc_passes,
)
from vaal_core.train.batches import Batches
from vaal_core.train.device import seed_everything
from vaal_core.train.passes import dropout_modules, predict_logits
from vaal_core.train.trainer import train_task_model

LN2 = math.log(2)
BASELINES = [
    "random",
    "entropy",
    "margin",
    "least_confidence",
    "mc_dropout",
    "dbal",
    "ensemble_varr",
    "coreset",
    "badge",
    "typiclust",
]
SPEC = tiny_spec(
    task={"iterations": 3},  # enough to make the model non-trivial; keeps ensembles cheap
    baselines={"mc_samples": 3, "ensemble_size": 2, "typiclust_max_clusters": 30},
)
N_POOL, N_LABELED, BUDGET = 400, 40, 30


# ---------------------------------------------------------------- scores on fixed arrays
def test_entropy_margin_least_confidence_golden():
    p = torch.tensor([[0.5, 0.5, 0.0], [1.0, 0.0, 0.0], [0.25, 0.25, 0.5]], dtype=torch.float64)
    assert entropy_score(p).tolist() == pytest.approx([LN2, 0.0, 1.5 * LN2])
    q = torch.tensor([[0.7, 0.2, 0.1], [0.4, 0.4, 0.2]], dtype=torch.float64)
    assert margin_score(q).tolist() == pytest.approx([-0.5, 0.0])  # higher = smaller margin
    assert least_confidence_score(q).tolist() == pytest.approx([0.3, 0.6])


def test_bald_golden():
    # two MC passes per image: confident but contradicting (0.9/0.1 then 0.1/0.9) vs always 50/50
    passes = torch.tensor(
        [[[0.9, 0.1], [0.5, 0.5]], [[0.1, 0.9], [0.5, 0.5]]], dtype=torch.float64
    )  # [T=2, N=2, C=2]
    mean, exp_h = passes.mean(0), entropy_score(passes).mean(0)
    h09 = -(0.9 * math.log(0.9) + 0.1 * math.log(0.1))
    # same mean prediction, same max-entropy; BALD tells disagreement from plain noise
    assert entropy_score(mean).tolist() == pytest.approx([LN2, LN2])
    assert bald_score(mean, exp_h).tolist() == pytest.approx([LN2 - h09, 0.0])


def test_variation_ratio_golden_is_disagreement_not_confidence():
    votes = torch.tensor([[2, 0, 0], [2, 0, 1], [2, 1, 2], [2, 2, 3], [2, 0, 4]])  # [M=5, N=3]
    assert variation_ratio(votes, 5).tolist() == pytest.approx([0.0, 0.4, 0.8])


def test_top_k_breaks_ties_by_seeded_order_not_index():
    scores = np.array([1.0, 3.0, 3.0, 2.0])
    assert set(top_k(scores, 2, np.random.default_rng(0))) == {1, 2}
    flat = np.zeros(10)
    firsts = {int(top_k(flat, 1, np.random.default_rng(s))[0]) for s in range(20)}
    assert len(firsts) > 1
    assert (
        top_k(flat, 5, np.random.default_rng(3)) == top_k(flat, 5, np.random.default_rng(3))
    ).all()


# ---------------------------------------------------------------- k-center greedy
def test_k_center_picks_farthest_point_first():
    feats = torch.tensor([[0.0, 0.0], [1.0, 0.0], [5.0, 0.0], [3.0, 0.0]])
    labeled = np.array([True, False, False, False])  # the origin
    # 5 is farthest from the origin; then 3 (distance 2 to 5) beats 1 (distance 1 to the origin)
    assert k_center_greedy(feats, labeled, 2).tolist() == [2, 3]


def test_k_center_matches_brute_force_on_50_points():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(50, 8, generator=g, dtype=torch.float64)
    labeled = np.arange(50) < 5
    picks = k_center_greedy(x, labeled, 12, chunk=7)  # chunk 7 forces the blockwise path
    full = torch.cdist(x, x)  # the N x N matrix the real code avoids
    centres, expected = list(range(5)), []
    for _ in range(12):
        d = full[:, centres].min(1).values
        d[centres] = -1
        j = int(d.argmax())
        expected.append(j)
        centres.append(j)
    assert picks.tolist() == expected


# ---------------------------------------------------------------- BADGE
def _badge_case(n=7, c=4, d=5):
    g = torch.Generator().manual_seed(1)
    probs = torch.randn(n, c, generator=g, dtype=torch.float64).mul(2).softmax(1)
    h = torch.randn(n, d, generator=g, dtype=torch.float64)
    return probs, h


def test_badge_factored_distances_equal_materialised():
    probs, h = _badge_case()
    a = gradient_factors(probs)
    onehot = torch.nn.functional.one_hot(probs.argmax(1), probs.shape[1]).double()
    assert torch.allclose(a, probs - onehot)
    g = torch.einsum("nc,nd->ncd", a, h).reshape(len(a), -1)  # the embedding BADGE never stores
    for j in range(len(a)):
        assert torch.allclose(factored_sq_distances(a, h, j), ((g - g[j]) ** 2).sum(1))


def test_badge_first_pick_is_largest_gradient_embedding_and_picks_are_unique():
    probs, h = _badge_case()
    a = gradient_factors(probs)
    g = torch.einsum("nc,nd->ncd", a, h).reshape(len(a), -1)
    picks = badge_seeding(a, h, len(a), torch.Generator().manual_seed(0))
    assert picks[0] == int(g.norm(dim=1).argmax())
    assert sorted(picks.tolist()) == list(range(len(a)))


# ---------------------------------------------------------------- TypiClust
def test_typicality_golden():
    feats = torch.tensor([[0.0], [1.0], [3.0], [10.0]], dtype=torch.float64)
    labels = np.array([0, 0, 0, 1])  # a singleton cluster has no neighbours: typicality 0
    typ = typicality(feats, labels, knn=1, chunk=2)
    assert typ.tolist() == pytest.approx([1.0, 1.0, 0.5, 0.0])


def test_typiclust_covers_least_covered_cluster_with_its_most_typical_image():
    labels = np.array([0, 0, 0, 1, 1, 1, 2])
    typ = np.array([0.3, 0.1, 0.9, 0.5, 0.7, 0.2, 5.0])
    is_lab = np.array([True, False, False, False, False, False, False])
    # cluster 1 (uncovered) -> its most typical (pos 4); then clusters 0 and 1 tie on coverage
    # and size -> lower id 0 (pos 2); then cluster 1 (pos 3). Cluster 2 (size 1 < 2) waits.
    assert typiclust_picks(labels, typ, is_lab, 3, min_size=2).tolist() == [4, 2, 3]
    assert typiclust_picks(labels, typ, is_lab, 6, min_size=2).tolist()[-1] == 6


# ---------------------------------------------------------------- shared machinery
def _slice(mnist, n=N_POOL) -> ImageData:
    return ImageData(
        "mnist",
        mnist.train_x[:n].clone(),
        mnist.train_y[:n].clone(),
        mnist.test_x[:10],
        mnist.test_y[:10],
        10,
        mnist.mean,
        mnist.std,
    )


def _ctx(data, model, seed=0, spec=SPEC) -> QueryContext:
    """Cycle 0's query context of run seed `seed`, as a run's round builds it."""
    labeled = np.random.default_rng(123).choice(len(data.train_y), N_LABELED, replace=False)
    round_ = Round(spec, Batches(data, torch.device("cpu")), seed, 0, 0, progress=False)
    return round_.context(Pool(np.arange(len(data.train_y)), labeled), model)


@pytest.fixture(scope="module")
def trained(mnist):
    """A small CNN trained briefly on the labeled part of a 400-image MNIST slice."""
    data = _slice(mnist)
    ctx = _ctx(data, None)
    gen = seed_everything(0, 0, 1)
    model = build_task_model("small_cnn", 1, 10)
    model, _ = train_task_model(
        model, ctx.batches, ctx.pool.labeled, SPEC.task, SPEC.runtime, gen, progress=False
    )
    return data, model


def test_second_request_hits_the_cache(trained):
    data, model = trained
    ctx = _ctx(data, model)
    idx = ctx.pool.unlabeled
    calls = []  # every call of the task model, whatever the helper
    handle = model.register_forward_hook(lambda *_: calls.append(1))
    try:
        emb = ctx.embeddings(idx)
        n_first = len(calls)
        assert ctx.forward_passes == 1 and n_first > 0
        assert ctx.embeddings(idx) is emb and len(calls) == n_first
        probs = ctx.probabilities(idx)  # logits came with the embeddings: no further pass
        assert ctx.probabilities(idx) is probs and len(calls) == n_first
        mc = ctx.mc_summary(idx, 3)
        n_mc = len(calls)
        assert ctx.mc_summary(idx, 3) is mc and len(calls) == n_mc > n_first
        assert ctx.image_mc_entropy(idx, 3)[1] == 3 and len(calls) == n_mc  # the same passes
        ctx.probabilities(ctx.pool.labeled)  # another index set is another entry
        assert len(calls) > n_mc and ctx.forward_passes == 5
    finally:
        handle.remove()


def test_embeddings_are_the_input_of_the_last_linear(trained):
    data, model = trained
    ctx = _ctx(data, model)
    idx = np.arange(50)
    logits, emb = logits_and_embeddings(model, ctx.batches, idx, 16, SPEC.runtime)
    assert emb.shape == (50, 32 * 16)
    model.eval()
    with torch.inference_mode():
        assert torch.allclose(last_linear(model)(emb), logits, atol=1e-5)
    assert torch.allclose(
        logits, predict_logits(model, ctx.batches, idx, 64, SPEC.runtime), atol=1e-5
    )


@pytest.mark.parametrize("name,dim", [("resnet18", 512), ("vgg16_bn", 4096)])
def test_embedding_hook_serves_torchvision_models(mnist, name, dim):
    torch.manual_seed(0)
    model = build_task_model(name, 1, 10)
    batches = Batches(_slice(mnist, 4), torch.device("cpu"))
    logits, emb = logits_and_embeddings(model, batches, np.arange(2), 2, SPEC.runtime)
    assert logits.shape == (2, 10) and emb.shape == (2, dim)


def test_every_task_model_has_dropout_and_resnet18_has_it_before_fc():
    for name in TASK_MODELS:
        if name != "vgg16_bn":  # vgg16_bn: torchvision's classifier has two Dropout(0.5)
            assert dropout_modules(build_task_model(name, 1, 10)), name
    fc = build_task_model("resnet18", 3, 10).fc
    assert isinstance(fc[0], nn.Dropout) and isinstance(fc[1], nn.Linear)


def test_mc_passes_differ_while_eval_is_deterministic_and_bn_stays_frozen(trained):
    data, model = trained
    batches = Batches(data, torch.device("cpu"))
    x = batches.images(np.arange(64))
    bn = next(m for m in model.modules() if isinstance(m, nn.BatchNorm2d))
    stats = bn.running_mean.clone()
    model.train()
    p = mc_passes(model, x, 2, SPEC.runtime)
    assert not torch.allclose(p[0], p[1])
    assert model.training and torch.equal(bn.running_mean, stats)  # modes restored, BN untouched
    a = predict_logits(model, batches, np.arange(64), 64, SPEC.runtime)
    assert torch.equal(a, predict_logits(model, batches, np.arange(64), 64, SPEC.runtime))
    s1 = mc_dropout_summary(model, batches, np.arange(64), 32, SPEC.runtime, 3, seed=5)
    s2 = mc_dropout_summary(model, batches, np.arange(64), 32, SPEC.runtime, 3, seed=5)
    assert torch.equal(s1.mean, s2.mean) and torch.equal(s1.expected_entropy, s2.expected_entropy)


def test_mc_passes_run_the_trunk_once_and_map_rows_back(trained):
    data, model = trained
    x = Batches(data, torch.device("cpu")).images(np.arange(8))
    model.eval()
    with torch.inference_mode():
        plain = model(x).softmax(-1)
    drop = dropout_modules(model)[0]
    drop.p, p = 0.0, drop.p  # masks become identity: every pass must equal plain evaluation
    trunk_calls = []
    handle = model[0].register_forward_hook(lambda *_: trunk_calls.append(1))
    try:
        passes = mc_passes(model, x, 4, SPEC.runtime)
    finally:
        drop.p = p
        handle.remove()
    assert len(trunk_calls) == 1  # the convolutional trunk ran once for all four passes
    assert passes.shape == (4, 8, 10)
    assert torch.allclose(passes, plain.expand(4, -1, -1), atol=1e-6)


class _ResidualDropout(nn.Module):
    """Dropout inside a residual branch: repeating its input breaks the skip's shape."""

    def __init__(self):
        super().__init__()
        self.flat, self.lin, self.drop = nn.Flatten(), nn.Linear(4, 4), nn.Dropout(0.5)

    def forward(self, x):
        x = self.flat(x)
        return x + self.drop(self.lin(x))


def test_mc_passes_fall_back_to_full_passes_when_the_head_mixes_shapes():
    torch.manual_seed(0)
    model, calls = _ResidualDropout(), []
    model.lin.register_forward_hook(lambda *_: calls.append(1))
    passes = mc_passes(model, torch.randn(3, 1, 2, 2), 5, SPEC.runtime)
    assert passes.shape == (5, 3, 4) and not torch.allclose(passes[0], passes[1])
    assert len(calls) == 1 + 5  # the failed shared pass, then five full passes


def test_mc_methods_refuse_a_model_without_dropout(mnist):
    ctx = _ctx(_slice(mnist), nn.Sequential(nn.Flatten(), nn.Linear(32 * 32, 10)))
    with pytest.raises(RuntimeError, match="no Dropout layer"):
        make_strategy("mc_dropout", SPEC).query(ctx, 5)


def test_ensemble_members_differ_and_each_is_reproducible(mnist):
    ctx = _ctx(_slice(mnist), None)
    labeled = ctx.pool.labeled
    m0, m1, m0_again = (ctx.train_member(7, m, labeled) for m in (0, 1, 0))
    p0, p1, p0b = (torch.cat([p.flatten() for p in m.parameters()]) for m in (m0, m1, m0_again))
    assert not torch.allclose(p0, p1)
    assert torch.equal(p0, p0b)


class _Exploding(nn.Module):
    def forward(self, x):
        raise AssertionError("compute ran before the budget check")


def test_budget_larger_than_unlabeled_pool_fails_before_compute(mnist):
    ctx = _ctx(_slice(mnist), _Exploding())
    with pytest.raises(ValueError, match="larger than the 360 unlabeled"):
        make_strategy("coreset", SPEC).query(ctx, N_POOL - N_LABELED + 1)


def test_check_selection_rejects_labeled_duplicate_out_of_range_and_short():
    pool = Pool(np.arange(10), np.array([0, 1]))
    assert check_selection(np.array([5, 2]), pool, 2, "x").tolist() == [5, 2]
    for bad, why in [
        ([0, 2], "labeled"),
        ([2, 2], "duplicate"),
        ([2, 99], "outside the pool"),
        ([2], "1 index for a budget of 2"),
    ]:
        with pytest.raises(RuntimeError, match=why):
            check_selection(np.array(bad), pool, 2, "x")


def test_capabilities_reject_unsupported_task_kind_and_specs_name_bad_keys():
    check_strategy_supports("random", "segmentation")
    with pytest.raises(SpecError, match="'badge' does not support segmentation"):
        check_strategy_supports("badge", "segmentation")
    with pytest.raises(SpecError, match="baselines.mc_samples"):
        preflight(tiny_spec(baselines={"mc_samples": 1}), "random")
    # a key no shared knob or strategy owns: the preflight names it (strategies own their keys,
    # so the torch-free loader keeps them for the registered strategies to check)
    with pytest.raises(SpecError, match="unknown spec key 'baselines.ensembl_size'"):
        preflight(tiny_spec(baselines={"ensembl_size": 3}), "random")


# ---------------------------------------------------------------- every strategy, real MNIST
@pytest.mark.parametrize("name", BASELINES)
def test_strategy_returns_budget_valid_unique_unlabeled_indices_deterministically(trained, name):
    data, model = trained
    picks = []
    for _ in range(2):
        ctx = _ctx(data, model, seed=3)
        strategy = make_strategy(name, SPEC)
        selection = strategy.query(ctx, BUDGET)
        sel = selection.indices
        # every strategy answers in one shape: picks, and a score per pick where it declares one
        assert selection.score is strategy.score
        if strategy.score is not None:
            assert selection.scores is not None and len(selection.scores) == BUDGET
            assert np.isfinite(selection.scores).all()
        assert len(sel) == BUDGET and len(np.unique(sel)) == BUDGET
        assert np.isin(sel, ctx.pool.unlabeled).all()
        picks.append(sel)
    assert np.array_equal(picks[0], picks[1])
    if name == "ensemble_varr":
        assert ctx.stats["extra_train_s"] > 0 and ctx.stats["ensemble_size"] == 2


def test_scores_follow_each_strategy_declared_direction(trained):
    """The score each pick carries is the one the strategy ranked by: a top-k strategy's picks
    hold the highest scores of the pool, k-center's distances fall pick by pick, and a sequential
    strategy numbers its picks in the order it made them."""
    data, model = trained
    ctx = _ctx(data, model, seed=5)
    entropy = make_strategy("entropy", SPEC).query(ctx, BUDGET)
    everyone = entropy_score(ctx.probabilities(ctx.pool.unlabeled)).double().numpy()
    assert entropy.scores.min() >= np.sort(everyone)[-BUDGET] - 1e-12  # the top of the pool
    assert np.allclose(np.sort(entropy.scores), np.sort(everyone)[-BUDGET:])
    coreset = make_strategy("coreset", SPEC).query(ctx, BUDGET)
    ranked = coreset.scores[coreset.label_order()]
    assert (np.diff(ranked) <= 1e-6).all() and ranked[-1] > 0  # the farthest first
    typi = make_strategy("typiclust", SPEC).query(ctx, BUDGET)
    assert sorted(typi.scores) == list(range(1, BUDGET + 1)) and not typi.score.higher_first
