"""One VAE step and one discriminator step against the original's arithmetic (67263f3 solver.py,
`train` and `vae_loss`), written out here term by term from its rules:

- VAE step: for each pool, in its own forward pass (so BatchNorm normalises each pool with its
  own batch statistics), the per-pixel mean squared error plus beta x the KL summed over the batch
  and the latent units; plus adversary_param x the BCE of sigmoid(discriminator(mu)) against
  "labeled" for both pools.
- Discriminator step: mu of each pool from a no-gradient pass with the VAE in train mode, BCE
  against labeled = 1, unlabeled = 0.

The original code itself, run outside the project on the stream the suite recorded, computes
these losses to about 1e-5 at the first steps and picks the same images (docs/protocols.md,
ledger row 21); these tests keep the suite on that arithmetic without the original code.
"""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from vaal_core.spec import spec_from_dict
from vaal_core.vaal import VAALModels
from vaal_core.vaal.options import VAALOptions

LATENT, BATCH = 8, 16


def _models(beta: float = 1.0, adversary: float = 1.0, seed: int = 0) -> VAALModels:
    spec = spec_from_dict(
        {
            "experiment": "original_step",
            "dataset": {"name": "mnist", "image_size": 32},
            "vaal": {
                "width": 8,
                "latent_dim": LATENT,
                "init": "original",
                "disc_layers": 2,
                "beta": beta,
                "adversary_param": adversary,
            },
            "runtime": {"precision": "fp32", "num_threads": 1, "channels_last": False},
        }
    )
    torch.manual_seed(seed)
    return VAALModels(1, VAALOptions.of(spec), spec.runtime, torch.device("cpu"))


def _pools(seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Two pools with different brightness, so joint BatchNorm statistics would show."""
    g = torch.Generator().manual_seed(seed)
    x_l = torch.rand(BATCH, 1, 32, 32, generator=g) * 2 - 1
    x_u = (torch.rand(BATCH + 4, 1, 32, 32, generator=g) * 2 - 1) * 0.5 + 0.3
    return x_l, x_u


def _original_vae_loss(vae, disc, x_l, x_u, eps_l, eps_u, beta, adversary) -> torch.Tensor:
    bce, mse = nn.BCELoss(), nn.MSELoss()
    total, mus = torch.zeros(()), []
    for x, eps in ((x_l, eps_l), (x_u, eps_u)):
        mu, logvar = vae.encode(x)  # this pool alone through the encoder, in train mode
        recon = vae.decode(eps * (0.5 * logvar).exp() + mu)
        kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
        total = total + mse(recon, x) + kld * beta
        mus.append(mu)
    for mu in mus:  # both pools pushed towards "labeled"
        p = torch.sigmoid(disc(mu))
        total = total + adversary * bce(p, torch.ones_like(p))
    return total


def _original_disc_loss(vae, disc, x_l, x_u) -> torch.Tensor:
    bce = nn.BCELoss()
    with torch.no_grad():
        mu_l, mu_u = vae.encode(x_l)[0], vae.encode(x_u)[0]
    p_l, p_u = torch.sigmoid(disc(mu_l)), torch.sigmoid(disc(mu_u))
    return bce(p_l, torch.ones_like(p_l)) + bce(p_u, torch.zeros_like(p_u))


@pytest.mark.parametrize("beta,adversary", [(1.0, 1.0), (0.25, 3.0)])
def test_vae_step_loss_is_the_originals(beta, adversary):
    models = _models(beta, adversary)
    x_l, x_u = _pools()
    vae, disc = copy.deepcopy(models.vae).train(), copy.deepcopy(models.disc)
    torch.manual_seed(7)  # the step draws its noise labeled first, then unlabeled
    eps_l, eps_u = torch.randn(BATCH, LATENT), torch.randn(BATCH + 4, LATENT)
    expected = _original_vae_loss(vae, disc, x_l, x_u, eps_l, eps_u, beta, adversary)
    torch.manual_seed(7)
    got = models.vae_step(x_l, x_u)
    assert float(got) == pytest.approx(float(expected.detach()), rel=1e-5)
    # and the step moved the VAE the way that loss's gradient says (one Adam step: lr x sign)
    expected.backward()
    before = dict(vae.named_parameters())
    for name, p in models.vae.named_parameters():
        g = before[name].grad
        if g is None or g.abs().max() == 0:
            continue
        moved = p.detach() - before[name].detach()
        agree = (torch.sign(moved) == -torch.sign(g))[g.abs() > 1e-8]
        assert agree.float().mean() > 0.99, name


def test_discriminator_step_loss_is_the_originals():
    models = _models()
    x_l, x_u = _pools(seed=3)
    vae, disc = copy.deepcopy(models.vae).train(), copy.deepcopy(models.disc)
    expected = _original_disc_loss(vae, disc, x_l, x_u)
    got = models.disc_step(x_l, x_u)
    assert float(got) == pytest.approx(float(expected.detach()), rel=1e-5)


def test_each_pool_is_normalised_with_its_own_batch_statistics():
    """Joint statistics (one pass over both pools) would give another loss: the test above
    would not notice if the two pools happened to share statistics, so make sure they do not."""
    models = _models()
    x_l, x_u = _pools(seed=3)
    vae, disc = copy.deepcopy(models.vae).train(), copy.deepcopy(models.disc)
    with torch.no_grad():
        mu_joint = vae.encode(torch.cat([x_l, x_u]))[0]
    p = torch.sigmoid(disc(mu_joint))
    target = torch.cat([torch.ones(BATCH, 1), torch.zeros(BATCH + 4, 1)]).view_as(p)
    joint = nn.BCELoss()(p[:BATCH], target[:BATCH]) + nn.BCELoss()(p[BATCH:], target[BATCH:])
    separate = _original_disc_loss(vae, disc, x_l, x_u)
    assert abs(float(joint.detach()) - float(separate.detach())) > 1e-3
