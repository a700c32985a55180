"""VAAL (Sinha, Ebrahimi, Darrell, ICCV 2019): a beta-VAE and a discriminator trained adversarially
on labeled and unlabeled images; the pool images the discriminator finds least "labeled" are queried.

Architecture and defaults follow the paper and its public code (github.com/sinhasam/vaal):
4 stride-2 4x4 convs (128-256-512-1024) with BN+ReLU to a 2x2 map, linear mu/logvar (latent 32),
a mirrored transposed-conv decoder; a 512-512 MLP discriminator on mu; Adam 5e-4; 2 VAE steps and
1 discriminator step per iteration; KL summed over batch and latent (the original's reduction).

The VAE and discriminator never see labels: only images pass through `ctx.batches`.
Speed (see benchmarks/): the discriminator step and pool scoring need mu only, so they run the
encoder alone instead of the whole VAE; precision follows `runtime.precision`.
"""

from .game import VAALModels, vae_loss
from .models import VAE, Discriminator, original_vae_init
from .strategy import VAALStrategy

__all__ = ["VAE", "Discriminator", "VAALModels", "VAALStrategy", "original_vae_init", "vae_loss"]
