"""The VAE and the discriminator of VAAL, and the original code's initialisation."""

from __future__ import annotations

import math

import torch
from torch import nn


def _stage_channels(image_size: int, width: int) -> list[int]:
    """Encoder widths: one stride-2 stage per halving down to a 2x2 map, doubling up to 8x width."""
    stages = int(math.log2(image_size)) - 1
    return [width * min(2**i, 8) for i in range(stages)]


class VAE(nn.Module):
    def __init__(
        self,
        in_channels: int,
        latent_dim: int = 32,
        image_size: int = 32,
        width: int = 128,
        init: str = "suite",
    ):
        super().__init__()
        chans = _stage_channels(image_size, width)
        layers, c_in = [], in_channels
        for c in chans:
            layers += [
                nn.Conv2d(c_in, c, 4, 2, 1, bias=False),
                nn.BatchNorm2d(c),
                nn.ReLU(inplace=True),
            ]
            c_in = c
        self.encoder = nn.Sequential(*layers, nn.Flatten())
        self.fc_mu = nn.Linear(chans[-1] * 4, latent_dim)
        self.fc_logvar = nn.Linear(chans[-1] * 4, latent_dim)
        # decoder: latent -> (C, 4, 4) -> stride-2 transposed convs up to image_size -> 1x1 to pixels
        self._top = chans[-1]
        self.fc_dec = nn.Linear(latent_dim, chans[-1] * 16)
        dec, c_in = [], chans[-1]
        for c in reversed(chans[:-1]):
            dec += [
                nn.ConvTranspose2d(c_in, c, 4, 2, 1, bias=False),
                nn.BatchNorm2d(c),
                nn.ReLU(inplace=True),
            ]
            c_in = c
        self.decoder = nn.Sequential(*dec, nn.ConvTranspose2d(c_in, in_channels, 1))
        if init == "original":  # model.py's weight_init: see `original_vae_init`
            original_vae_init(self)
        else:
            for m in self.modules():
                if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
                    _kaiming(m)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.encoder(x)
        return self.fc_mu(h), self.fc_logvar(h)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.fc_dec(z).view(-1, self._top, 4, 4))

    def forward(self, x: torch.Tensor, eps: torch.Tensor | None = None):
        """(reconstruction, z, mu, logvar); z = mu + eps * sigma in training (eps ~ N(0, I) if
        not given: passing it keeps the random draw outside a compiled graph), mu in eval."""
        mu, logvar = self.encode(x)
        if self.training:
            eps = torch.randn_like(mu) if eps is None else eps
            z = mu + eps * torch.exp(0.5 * logvar)
        else:
            z = mu
        return self.decode(z), z, mu, logvar


def _kaiming(m: nn.Module) -> None:
    """kaiming-normal weights (fan_in, gain sqrt(2)) and zero bias: model.py's `kaiming_init`."""
    nn.init.kaiming_normal_(m.weight)
    if m.bias is not None:
        nn.init.zeros_(m.bias)


def original_vae_init(vae: VAE) -> None:
    """What the original's `VAE.weight_init` does (model.py:56-62 in 395da2e and 67263f3, with
    `kaiming_init` at 395da2e model.py:115-123, 67263f3 :111-119).

    It walks the top-level blocks; `fc_mu`/`fc_logvar` are not iterable, so the `except` branch
    calls `kaiming_init` on the block's *name* (a string), which matches nothing: both keep
    PyTorch's default. `kaiming_init` matches nn.Linear and nn.Conv2d only, so the transposed
    convs keep the default too. Kaiming-normal reaches the encoder's convs and the decoder's first
    Linear (our `fc_dec`); BatchNorm gets weight 1, bias 0 (PyTorch's default already).
    """
    for m in [*vae.encoder, vae.fc_dec]:
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            _kaiming(m)


class Discriminator(nn.Module):
    """MLP on mu; returns logits (sigmoid gives P(labeled)), so BCE-with-logits is autocast-safe.

    `init: original` gives every Linear kaiming-normal weights and zero bias, as model.py's
    `Discriminator.weight_init` (395da2e :106-109, 67263f3 :102-105); `suite` keeps PyTorch's
    default.
    """

    def __init__(self, latent_dim: int = 32, hidden: int = 512, layers: int = 2, init="suite"):
        super().__init__()
        mods, d = [], latent_dim
        for _ in range(layers):
            mods += [nn.Linear(d, hidden), nn.ReLU(inplace=True)]
            d = hidden
        self.net = nn.Sequential(*mods, nn.Linear(d, 1))
        if init == "original":
            for m in self.net:
                if isinstance(m, nn.Linear):
                    _kaiming(m)

    def forward(self, mu: torch.Tensor) -> torch.Tensor:
        return self.net(mu).squeeze(1)

    def prob_labeled(self, mu: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self(mu).float())
