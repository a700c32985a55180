"""The VAE-discriminator game: its losses, one training iteration, the pool's score, and how
many iterations one query trains."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..spec import RuntimeSpec
from ..spec.quirks import batch_starts
from ..train.compiled import CompiledStep
from ..train.device import autocast, device_index, grad_scaler
from ..train.schedules import total_iterations
from .models import VAE, Discriminator
from .options import VAALOptions


def vae_terms(x, recon, mu, logvar, beta: float, kl_reduction: str):
    """(MSE reconstruction (mean), beta * KL(q(z|x) || N(0, I)) reduced as the spec says)."""
    mu, logvar = mu.float(), logvar.float()
    kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp())
    kl = kl.sum() if kl_reduction == "sum" else kl.mean()
    return F.mse_loss(recon.float(), x.float()), beta * kl


def vae_loss(x, recon, mu, logvar, beta: float, kl_reduction: str) -> torch.Tensor:
    """MSE reconstruction (mean) + beta * KL(q(z|x) || N(0, I)), reduced as the spec says."""
    rec, kl = vae_terms(x, recon, mu, logvar, beta, kl_reduction)
    return rec + kl


def _bce_to(logits: torch.Tensor, target: float) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(
        logits.float(), torch.full_like(logits.float(), target)
    )


LABELED, UNLABELED = 1.0, 0.0  # discriminator targets


class VAALModels:
    """The VAE, the discriminator and their optimisers, with one training iteration as a method.

    The steps never read a value on the host: they return the loss as a detached device tensor
    (see `hostsync.LossMeter`), so on a GPU the host queues step after step without waiting.
    With `runtime.compile` each step's forward+loss (and its backward) and the scoring pass go
    through `compiled.CompiledStep` (CUDA graphs on a GPU, eager fallback if a model fails).
    """

    # the VAE step also returns its reconstruction, KL and adversarial terms (`last_terms`, on
    # the device) for TensorBoard; off, the step computes the loss alone, as it always has
    keep_terms = False

    def __init__(self, channels: int, cfg: VAALOptions, runtime: RuntimeSpec, device: torch.device):
        self.cfg, self.runtime, self.device = cfg, runtime, device
        self.last_terms: dict[str, torch.Tensor] = {}
        self.vae = VAE(channels, cfg.latent_dim, cfg.image_size, cfg.width, cfg.init).to(device)
        self.disc = Discriminator(cfg.latent_dim, cfg.disc_hidden, cfg.disc_layers, cfg.init)
        self.disc = self.disc.to(device)
        if runtime.channels_last:
            self.vae = self.vae.to(memory_format=torch.channels_last)
        fused = {"fused": True} if runtime.fused_optimizer else {}
        self.opt_vae = torch.optim.Adam(self.vae.parameters(), lr=cfg.lr_vae, **fused)
        self.opt_disc = torch.optim.Adam(self.disc.parameters(), lr=cfg.lr_disc, **fused)
        self.scaler = grad_scaler(device, runtime.precision)
        on = runtime.compile
        self._vae_loss = CompiledStep(self._vae_loss_fn, "VAE step", device, on)
        self._disc_loss = {
            enc: CompiledStep(self._bind(self._disc_loss_fn, enc), "disc step", device, on)
            for enc in (True, False)
        }
        self._score = {
            enc: CompiledStep(self._bind(self._score_fn, enc), "scoring", device, on)
            for enc in (True, False)
        }

    @staticmethod
    def _bind(fn, encoder_only: bool):
        """fn with `encoder_only` fixed, as a plain function (what torch.compile traces best)."""
        return lambda *tensors: fn(*tensors, encoder_only=encoder_only)

    @property
    def compile_fallbacks(self) -> list[str]:
        steps = [self._vae_loss, *self._disc_loss.values(), *self._score.values()]
        return sorted({s.name for s in steps if s.fallen_back})

    def mu(self, x: torch.Tensor, encoder_only: bool = True) -> torch.Tensor:
        """mu of q(z|x); `encoder_only=False` is the original's whole-VAE pass, kept for benchmarks."""
        return self.vae.encode(x)[0] if encoder_only else self.vae(x)[2]

    # ---- the step functions (what runtime.compile compiles): tensors in, a loss tensor out
    def _vae_loss_fn(self, x_l, x_u, eps_l, eps_u) -> torch.Tensor:
        cfg = self.cfg
        with autocast(self.device, self.runtime.precision):
            recon_l, _, mu_l, logvar_l = self.vae(x_l, eps_l)
            recon_u, _, mu_u, logvar_u = self.vae(x_u, eps_u)
            d_l, d_u = self.disc(mu_l), self.disc(mu_u)
        rec_l, kl_l = vae_terms(x_l, recon_l, mu_l, logvar_l, cfg.beta, cfg.kl_reduction)
        rec_u, kl_u = vae_terms(x_u, recon_u, mu_u, logvar_u, cfg.beta, cfg.kl_reduction)
        adv = cfg.adversary_param * (_bce_to(d_l, LABELED) + _bce_to(d_u, LABELED))
        total = (rec_l + kl_l) + (rec_u + kl_u) + adv
        if not self.keep_terms:
            return total
        return torch.stack([total, rec_l + rec_u, kl_l + kl_u, adv])

    def _disc_loss_fn(self, x_l, x_u, encoder_only: bool) -> torch.Tensor:
        with autocast(self.device, self.runtime.precision):
            with torch.no_grad():
                mu_l, mu_u = self.mu(x_l, encoder_only), self.mu(x_u, encoder_only)
            return _bce_to(self.disc(mu_l), LABELED) + _bce_to(self.disc(mu_u), UNLABELED)

    def _score_fn(self, x, encoder_only: bool) -> torch.Tensor:
        with autocast(self.device, self.runtime.precision):
            return self.disc.prob_labeled(self.mu(x, encoder_only))

    def _optimise(self, step: CompiledStep, opt: torch.optim.Optimizer, *args) -> torch.Tensor:
        """zero_grad, loss, backward, optimiser step; the loss comes back as a device tensor.

        With fused Adam the fp16 GradScaler passes its inf check to the kernel (no host read).
        """
        loss = step(
            *args,
            before=lambda: opt.zero_grad(set_to_none=True),
            then=lambda out: self.scaler.scale(out if out.ndim == 0 else out[0]).backward(),
        )
        self.scaler.step(opt)
        self.scaler.update()
        return loss.detach().clone()  # clone: a CUDA graph's output is overwritten on replay

    def vae_step(self, x_l: torch.Tensor, x_u: torch.Tensor) -> torch.Tensor:
        """Reconstruct both batches, and push the discriminator to call both of them labeled."""
        self.vae.train()
        # the reparameterisation noise, drawn in the order the eager VAE drew it, outside the
        # compiled graph: compiled and eager steps then see the same noise
        latent = self.cfg.latent_dim
        eps_l = torch.randn(len(x_l), latent, device=x_l.device)
        eps_u = torch.randn(len(x_u), latent, device=x_u.device)
        out = self._optimise(self._vae_loss, self.opt_vae, x_l, x_u, eps_l, eps_u)
        if out.ndim == 0:
            return out
        self.last_terms = {"recon": out[1], "kl": out[2], "adv": out[3]}
        return out[0]

    def disc_step(
        self, x_l: torch.Tensor, x_u: torch.Tensor, encoder_only: bool = True
    ) -> torch.Tensor:
        """Teach the discriminator labeled=1, unlabeled=0 on mu computed without gradient."""
        self.vae.train()  # as in the original: BN in the VAE uses batch statistics here too
        return self._optimise(self._disc_loss[encoder_only], self.opt_disc, x_l, x_u)

    def set_lr_factor(self, factor: float) -> None:
        """Both optimisers at their base lr x factor (395da2e's decay, `vaal.lr_step_fraction`)."""
        for opt, base in ((self.opt_vae, self.cfg.lr_vae), (self.opt_disc, self.cfg.lr_disc)):
            for group in opt.param_groups:
                group["lr"] = base * factor

    @torch.inference_mode()
    def score(
        self,
        batches: Iterator[torch.Tensor],
        total: int,
        encoder_only: bool = True,
        train_mode: bool = False,
    ) -> torch.Tensor:
        """P(labeled) for each of `total` images, eval mode (BN running statistics), no
        augmentation.

        `train_mode` (the `train_mode_scoring` quirk) keeps the VAE's BN on batch statistics.
        Stays on the device: the selection reads it once, after the whole pool is scored.
        """
        self.vae.train(train_mode)
        self.disc.eval()
        scores = (self._score[encoder_only](x) for x in batches)
        return gather_rows(scores, total, self.device)

    def state_dict(self) -> dict[str, Any]:
        return {
            "vae": self.vae.state_dict(),
            "disc": self.disc.state_dict(),
            "opt_vae": self.opt_vae.state_dict(),
            "opt_disc": self.opt_disc.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.vae.load_state_dict(state["vae"])
        self.disc.load_state_dict(state["disc"])
        self.opt_vae.load_state_dict(state["opt_vae"])
        self.opt_disc.load_state_dict(state["opt_disc"])


def gather_rows(outputs: Iterable[torch.Tensor], total: int, device: torch.device) -> torch.Tensor:
    """The batches' outputs copied into one tensor of `total` rows, allocated once.

    Why not a list of per-batch outputs and a `cat`: on a CPU, small tensors kept alive between
    freed activations fragment the heap; over 1.28M latent codes in batches of 1,024 that list
    grew the process by 1.3-2.5 GB, one allocation grows it by 12 MB (docs/scale.md). The copy
    also frees each output at once, which a compiled step's reused buffers need.
    """
    out, start = None, 0
    for y in outputs:
        if out is None:
            out = torch.empty((total, *y.shape[1:]), dtype=y.dtype, device=y.device)
        out[start : start + len(y)] = y
        start += len(y)
    if start != total:
        raise ValueError(f"gather_rows: {start} rows given for {total}")
    return out if out is not None else torch.empty(0, device=device)


def endless_batches(
    idx: np.ndarray,
    batch: int,
    generator: torch.Generator,
    device: torch.device,
    drop_last: bool = False,
) -> Iterator[torch.Tensor]:
    """Reshuffled every pass, like a DataLoader with shuffle=True read forever.

    `drop_last` (the quirk) drops each pass's partial batch unless the set is smaller than one.

    The permutation is drawn on the host (the seeded CPU generator decides the order on every
    device) and sent to the device once per pass; each batch is then a slice of device memory,
    built without a host round trip.
    """
    t = torch.as_tensor(idx, dtype=torch.long)
    while True:
        order = device_index(t[torch.randperm(len(t), generator=generator)], device)
        for start in batch_starts(len(order), batch, drop_last):
            yield order[start : start + batch]


def vaal_iterations(spec, n_labeled: int, n_train: int, n_pool: int) -> int:
    """VAE/discriminator iterations for one query.

    Both original versions trained the VAE and discriminator in the task model's loop, one
    iteration each per task step (`vaal.match_task_iterations`); otherwise `vaal.epochs` passes
    over the pool at `vaal.batch_size`.
    """
    cfg = VAALOptions.of(spec)
    if cfg.match_task_iterations:
        return total_iterations(spec.task, n_labeled, n_train)
    return max(1, math.ceil(cfg.epochs * n_pool / cfg.batch_size))
