"""VAAL's own settings: the spec's `vaal:` section, owned by the VAAL strategy as every baseline
owns its options (`Strategy.options_type`), so the engine's schema names no strategy.

The loader keeps the section's keys as written; the strategy parses and checks them at preflight
(`vaal_core.strategies.check_owned_options`), before any compute. Every key existed as a field
of the engine's schema before VAAL owned it: `vaal_core/spec/hashing.py` `LEGACY_SECTIONS` keeps
the form the spec hash always gave each one, so every recorded spec keeps its bytes and hash.
Torch-free: a planner or a test reads these without building a model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import SpecError
from ..spec.validate import positive

# the spec section these options live in (`vaal.<field>`)
SECTION = "vaal"

# valid values of the settings that name a choice
CHOICES: dict[str, frozenset[str]] = {
    "kl_reduction": frozenset({"sum", "mean"}),
    "game": frozenset({"adversarial", "fixed_vae"}),
    "input_range": frozenset({"standardized", "unit", "symmetric"}),
    "init": frozenset({"suite", "original"}),
}


@dataclass(frozen=True)
class VAALOptions:
    latent_dim: int = 32
    width: int = 128  # channels of the first VAE stage, doubled per stage (128-256-512-1024)
    beta: float = 1.0
    adversary_param: float = 1.0
    num_vae_steps: int = 2
    num_adv_steps: int = 1
    lr_vae: float = 5e-4
    lr_disc: float = 5e-4
    batch_size: int = 128
    epochs: float = 1.0  # iterations = epochs * pool size / batch_size
    match_task_iterations: bool = False  # as many iterations as the task model's cycle (originals)
    image_size: int = 32  # VAE input size, independent of the task model's
    kl_reduction: str = "sum"  # "sum" over batch and latent, as in the original code; or "mean"
    # "adversarial": the paper's min-max game; "fixed_vae" (ablation): train the VAE alone, then
    # the discriminator on its frozen encoder
    game: str = "adversarial"
    # diagnostics: up to this many labeled and unlabeled images (at most 10% of each) are kept out
    # of VAAL's training, to measure how well the discriminator tells them apart (0: in-sample)
    diag_holdout: int = 256
    disc_hidden: int = 512
    disc_layers: int = 2  # hidden layers of the discriminator MLP
    reset_each_cycle: bool = True
    # what the VAE sees, whatever the task model's normalisation: `standardized` (the dataset's
    # mean/std, as the task model), `unit` ([0, 1]: ToTensor, 395da2e main.py:19-23) or
    # `symmetric` ([-1, 1]: Normalize(0.5, 0.5), 67263f3 custom_datasets.py:17-23)
    input_range: str = "standardized"
    # `suite`: kaiming-normal on every VAE conv/linear, PyTorch's default in the discriminator;
    # `original`: model.py's weight_init (vaal_core/vaal/models.py `original_vae_init`)
    init: str = "suite"
    # VAE and discriminator lr x lr_gamma every this fraction of the iterations (395da2e
    # solver.py:50-61: x0.9 every iterations // 25); None: constant (67263f3)
    lr_step_fraction: float | None = None
    lr_gamma: float = 0.9

    def __post_init__(self) -> None:
        """Values that are well-typed but cannot run: one SpecError naming `vaal.<key>`."""
        for name in ("latent_dim", "width", "num_vae_steps", "batch_size", "disc_hidden"):
            positive(getattr(self, name), _key(name))
        positive(self.disc_layers, _key("disc_layers"))
        for name in ("num_adv_steps", "diag_holdout", "beta", "adversary_param"):
            positive(getattr(self, name), _key(name), allow_zero=True)
        positive(self.lr_gamma, _key("lr_gamma"))
        positive(self.epochs, _key("epochs"))
        if self.lr_step_fraction is not None and not 0 < self.lr_step_fraction <= 1:
            raise SpecError(
                f"spec key '{_key('lr_step_fraction')}' must lie in (0, 1], "
                f"got {self.lr_step_fraction}"
            )
        if self.image_size < 8 or self.image_size & (self.image_size - 1):
            raise SpecError(
                f"spec key '{_key('image_size')}' must be a power of two >= 8, "
                f"got {self.image_size}"
            )
        for name, valid in CHOICES.items():
            if getattr(self, name) not in valid:
                raise SpecError(
                    f"spec key '{_key(name)}' is {getattr(self, name)!r}; "
                    f"valid values: {sorted(valid)}"
                )

    @classmethod
    def of(cls, spec: Any) -> VAALOptions:
        """The options a spec's `vaal:` section gives (defaults for the keys it leaves out)."""
        return spec.options(cls, SECTION)


def _key(name: str) -> str:
    return f"{SECTION}.{name}"
