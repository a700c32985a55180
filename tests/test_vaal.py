"""VAAL's correctness: each test here would catch a bug seen in some implementation of it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.helpers import tiny_spec
from vaal_core.datasets import ImageData
from vaal_core.run.pool import Pool
from vaal_core.strategies import QueryContext, make_strategy
from vaal_core.train.batches import Batches
from vaal_core.train.device import seed_everything
from vaal_core.vaal import VAE, Discriminator, VAALModels, VAALStrategy
from vaal_core.vaal.options import VAALOptions


def _ctx(spec, data, labeled, candidates, seed=0):
    gen = seed_everything(seed, 0, 2)
    return QueryContext(
        spec=spec,
        pool=Pool(candidates, labeled),
        task_model=torch.nn.Identity(),
        batches=Batches(data, torch.device("cpu")),
        rng=np.random.default_rng(seed),
        generator=gen,
        cycle=0,
        progress=False,
    )


def _slice(mnist, n=600) -> ImageData:
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


def test_vae_shapes_follow_input_size():
    for size, stages in ((32, 4), (64, 5)):
        vae = VAE(3, latent_dim=32, image_size=size, width=8)
        assert sum(isinstance(m, torch.nn.Conv2d) for m in vae.encoder) == stages
        recon, z, mu, logvar = vae(torch.randn(2, 3, size, size))
        assert recon.shape == (2, 3, size, size) and mu.shape == z.shape == logvar.shape == (2, 32)
    paper = VAE(3, 32, 32, 128)
    assert [m.out_channels for m in paper.encoder if isinstance(m, torch.nn.Conv2d)] == [
        128,
        256,
        512,
        1024,
    ]


def test_selection_picks_lowest_probability_of_labeled(mnist):
    """A discriminator sure that a known subset is labeled must leave that subset unselected."""
    spec = tiny_spec()
    data = _slice(mnist)
    ctx = _ctx(spec, data, labeled=np.arange(40), candidates=np.arange(600))
    strategy = make_strategy("vaal", spec)
    confident = set(range(40, 340))  # P(labeled) = 0.99 on these, 0.01..0.5 elsewhere
    scores = torch.tensor(
        [0.99 if i in confident else 0.01 + 0.49 * (i % 7) / 7 for i in ctx.pool.unlabeled]
    )
    strategy.train = lambda ctx, *sets: None  # only the ranking is under test here
    strategy.score_pool = lambda ctx, idx: scores
    strategy._diagnostics = lambda *args: {}
    picks = strategy.select(ctx, 100)
    picked = picks.indices
    assert len(picked) == 100 and not set(picked) & confident
    lowest = ctx.pool.unlabeled[np.argsort(scores.numpy(), kind="stable")[:100]]
    assert set(picked) == set(lowest)
    # each pick carries its own P(labeled), and the strategy declares lowest-first
    at = np.searchsorted(ctx.pool.unlabeled, picked)
    assert np.allclose(picks.scores, scores.double().numpy()[at])
    assert strategy.score.column == "p_labeled" and not strategy.score.higher_first


def _two_batches(mnist):
    x = mnist.train_x[:256].float() / 255
    x_l, x_u = (x[:128] - 0.1) / 0.3, (1 - x[128:] - 0.1) / 0.3  # digits vs inverted digits
    return x_l, x_u


def test_discriminator_learns_labeled_one_unlabeled_zero(mnist):
    torch.manual_seed(0)
    spec = tiny_spec()
    m = VAALModels(1, VAALOptions.of(spec), spec.runtime, torch.device("cpu"))
    x_l, x_u = _two_batches(mnist)
    for _ in range(40):
        m.disc_step(x_l, x_u)
    with torch.no_grad():  # the mode the discriminator was trained in
        p_l = m.disc.prob_labeled(m.mu(x_l)).mean()
        p_u = m.disc.prob_labeled(m.mu(x_u)).mean()
    assert p_l > 0.8 and p_u < 0.2


def test_vae_adversarial_target_is_labeled_for_both_batches(mnist):
    """The VAE step pushes D(mu) towards 1 for labeled *and* unlabeled images (frozen D)."""
    torch.manual_seed(0)
    spec = tiny_spec(vaal={"adversary_param": 10.0, "beta": 0.0})
    m = VAALModels(1, VAALOptions.of(spec), spec.runtime, torch.device("cpu"))
    x_l, x_u = _two_batches(mnist)
    for p in m.disc.parameters():
        torch.nn.init.normal_(p, std=0.1)
    m.vae.train()
    with torch.no_grad():
        before_l = m.disc.prob_labeled(m.mu(x_l)).mean()
        before_u = m.disc.prob_labeled(m.mu(x_u)).mean()
    disc_state = {k: v.clone() for k, v in m.disc.state_dict().items()}
    for _ in range(15):
        m.vae_step(x_l, x_u)
    assert all(torch.equal(v, m.disc.state_dict()[k]) for k, v in disc_state.items())  # D untouched
    with torch.no_grad():
        after_l = m.disc.prob_labeled(m.mu(x_l)).mean()
        after_u = m.disc.prob_labeled(m.mu(x_u)).mean()
    assert after_u > before_u + 0.1 and after_l > before_l + 0.1


def test_scoring_uses_eval_mode_and_no_augmentation(mnist):
    spec = tiny_spec(task={"augment": True})
    data = _slice(mnist)
    ctx = _ctx(spec, data, labeled=np.arange(40), candidates=np.arange(600))
    strategy = VAALStrategy(spec)
    strategy.train(ctx)
    idx = ctx.pool.unlabeled
    a = strategy.score_pool(ctx, idx, batch_size=64)
    b = strategy.score_pool(
        ctx, idx, batch_size=64
    )  # the generator has moved on: augmentation would differ
    assert torch.equal(a, b)
    c = strategy.score_pool(
        ctx, idx, batch_size=500
    )  # other batch composition: equal up to float rounding
    assert torch.allclose(a, c, atol=1e-6)
    alone = strategy.score_pool(ctx, idx[:1], batch_size=1)
    assert torch.allclose(
        alone, a[:1], atol=1e-6
    )  # BN running stats: a score does not depend on the batch
    assert not strategy.models.vae.training and not strategy.models.disc.training


def test_vae_never_sees_labels(mnist):
    spec = tiny_spec()
    data = _slice(mnist)
    scrambled = ImageData(
        data.name,
        data.train_x,
        torch.randint(0, 10, data.train_y.shape),
        data.test_x,
        data.test_y,
        10,
        data.mean,
        data.std,
    )
    picks = []
    for d in (data, scrambled):
        ctx = _ctx(spec, d, labeled=np.arange(40), candidates=np.arange(600))
        picks.append(make_strategy("vaal", spec).select(ctx, 50).indices)
    assert np.array_equal(picks[0], picks[1])


@pytest.mark.parametrize("game", ["adversarial", "fixed_vae"])
def test_selection_is_dominated_by_the_unrepresented_distribution(mnist, game):
    """Labeled: plain digits. Unlabeled: plain and inverted digits. VAAL must query the inverted ones.

    Uses kl_reduction=mean: with the original's summed KL (4096x the weight of the mean-reduced
    MSE at batch 128, latent 32) the posterior collapses within this short training, and the
    eval-mode scores of the unseen distribution are then arbitrary (measured: 0% inverted picked).
    """
    spec = tiny_spec(vaal={"epochs": 10.0, "width": 8, "kl_reduction": "mean", "game": game})
    x = mnist.train_x[:800].clone()
    x[400:] = 255 - x[400:]  # the second half is a visibly different distribution
    data = ImageData(
        "mnist",
        x,
        mnist.train_y[:800],
        mnist.test_x[:10],
        mnist.test_y[:10],
        10,
        mnist.mean,
        mnist.std,
    )
    labeled = np.arange(0, 200)  # plain only
    ctx = _ctx(spec, data, labeled=labeled, candidates=np.arange(800))
    strategy = make_strategy("vaal", spec)
    picked = strategy.select(ctx, 100).indices
    inverted = (picked >= 400).mean()
    # the unlabeled pool is 2/3 inverted, so a random pick of 100 holds 67 +- 4.3 of them; 85 is
    # 4.2 sd above (p < 1e-4), and a flipped ranking picks plain digits. Measured on an Intel Xeon:
    # 1.00 (adversarial) and 0.92 (fixed_vae); the exact share moves with the CPU's float rounding
    assert inverted >= 0.85, (
        f"only {inverted:.0%} of the selection is from the unrepresented distribution"
    )
    assert strategy.models.cfg.adversary_param == (1.0 if game == "adversarial" else 0.0)
    # the diagnostics see it too: held-out plain digits score above held-out mixed ones
    st = ctx.stats
    assert st["n_heldout_labeled"] == 20 and st["n_heldout_unlabeled"] == 60
    assert st["disc_auc"] > 0.5 + st["disc_auc_band"]
    assert st["p_labeled_selected"] < st["p_labeled_unlabeled"] < st["p_labeled_labeled"]
    assert 0 < st["active_units"] <= st["latent_dim"] and st["vae_recon"] > 0


def test_vae_loss_decreases_on_real_digits(mnist):
    torch.manual_seed(0)
    spec = tiny_spec()
    m = VAALModels(1, VAALOptions.of(spec), spec.runtime, torch.device("cpu"))
    x = (mnist.train_x[:512].float() / 255 - 0.1) / 0.3
    losses = [
        m.vae_step(x[i % 4 * 128 : i % 4 * 128 + 64], x[i % 4 * 128 + 64 : i % 4 * 128 + 128])
        for i in range(40)
    ]
    assert np.mean(losses[-8:]) < 0.7 * np.mean(losses[:4])


def test_discriminator_depth_is_configurable():
    d = Discriminator(32, hidden=64, layers=4)
    assert sum(isinstance(m, torch.nn.Linear) for m in d.net) == 5
    assert d(torch.randn(3, 32)).shape == (3,)
