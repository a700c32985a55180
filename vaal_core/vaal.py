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

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from .compiled import CompiledStep
from .device import autocast, device_index, grad_scaler
from .failpoints import failpoint
from .game_metrics import accuracy_at_half, active_units, auc_chance_band, roc_auc
from .hostsync import LossMeter
from .schedules import vaal_iterations
from .spec import RuntimeSpec, Spec, VAALSpec
from .strategies import QueryContext, Strategy, register_strategy


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
    """What the original's `VAE.weight_init` does (model.py:56-62 and :115-124, 395da2e = 67263f3).

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
    `Discriminator.weight_init` (:106-109); `suite` keeps PyTorch's default.
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


def vae_loss(x, recon, mu, logvar, beta: float, kl_reduction: str) -> torch.Tensor:
    """MSE reconstruction (mean) + beta * KL(q(z|x) || N(0, I)), reduced as the spec says."""
    mu, logvar = mu.float(), logvar.float()
    kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp())
    kl = kl.sum() if kl_reduction == "sum" else kl.mean()
    return F.mse_loss(recon.float(), x.float()) + beta * kl


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

    def __init__(self, channels: int, cfg: VAALSpec, runtime: RuntimeSpec, device: torch.device):
        self.cfg, self.runtime, self.device = cfg, runtime, device
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
        return (
            vae_loss(x_l, recon_l, mu_l, logvar_l, cfg.beta, cfg.kl_reduction)
            + vae_loss(x_u, recon_u, mu_u, logvar_u, cfg.beta, cfg.kl_reduction)
            + cfg.adversary_param * (_bce_to(d_l, LABELED) + _bce_to(d_u, LABELED))
        )

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
            then=lambda out: self.scaler.scale(out).backward(),
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
        return self._optimise(self._vae_loss, self.opt_vae, x_l, x_u, eps_l, eps_u)

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
        encoder_only: bool = True,
        train_mode: bool = False,
    ) -> torch.Tensor:
        """P(labeled) for each image, eval mode (BN running statistics), no augmentation.

        `train_mode` (the `train_mode_scoring` quirk) keeps the VAE's BN on batch statistics.
        Stays on the device: the selection reads it once, after the whole pool is scored.
        """
        self.vae.train(train_mode)
        self.disc.eval()
        out = [self._score[encoder_only](x).clone() for x in batches]
        return torch.cat(out) if out else torch.empty(0, device=self.device)

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


def _endless_batches(
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
        usable = len(order) - len(order) % batch if drop_last else 0
        for start in range(0, usable or len(order), batch):
            yield order[start : start + batch]


@register_strategy("vaal")
class VAALStrategy(Strategy):
    # task-agnostic (the paper's point): the VAE sees images resized to vaal.image_size
    task_kinds = frozenset({"classification", "segmentation"})

    def __init__(self, spec: Spec):
        super().__init__(spec)
        self.models: VAALModels | None = None
        self._carried: dict[str, Any] | None = None
        self.last_scores: torch.Tensor | None = None  # P(labeled) of the unlabeled pool
        self.last_disc_loss: float | None = None

    def _images(self, ctx: QueryContext, idx: torch.Tensor, augment: bool) -> torch.Tensor:
        x = ctx.batches.images(idx, augment=augment, generator=ctx.generator)
        size = self.spec.vaal.image_size
        x = self._input_range(ctx, x)
        if tuple(x.shape[-2:]) != (size, size):  # a wide scene is squashed to the square
            x = F.interpolate(
                x, size=(size, size), mode="bilinear", align_corners=False, antialias=True
            )
        if self.spec.runtime.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def _input_range(self, ctx: QueryContext, x: torch.Tensor) -> torch.Tensor:
        """The VAE's input scale (`vaal.input_range`), undone from the task's standardisation.

        The scale sets the balance of the per-pixel MSE against the KL summed over the batch:
        [0, 1] (395da2e) has about 1/16 and [-1, 1] (67263f3) about 1/4 of the squared range
        of standardised CIFAR images.
        """
        rng = self.spec.vaal.input_range
        if rng == "standardized":
            return x
        data = ctx.batches.data
        mean = torch.tensor(data.mean, device=x.device, dtype=x.dtype).view(1, -1, 1, 1)
        std = torch.tensor(data.std, device=x.device, dtype=x.dtype).view(1, -1, 1, 1)
        unit = x * std + mean
        return unit if rng == "unit" else unit * 2 - 1

    def train(self, ctx: QueryContext, labeled=None, unlabeled=None) -> None:
        """Play the game on `labeled`/`unlabeled` (default: the whole pool).

        `vaal.game: fixed_vae` (ablation) replaces the min-max game by two phases: the VAE alone
        (no adversarial term), then the discriminator on the frozen VAE, each `iterations` long.
        """
        cfg, runtime = self.spec.vaal, self.spec.runtime
        labeled = ctx.pool.labeled if labeled is None else labeled
        unlabeled = ctx.pool.unlabeled if unlabeled is None else unlabeled
        # Built afresh every cycle, then warm-started from the carried state if any: a resumed
        # run (state from state-<c>.pt) and an uninterrupted one (state in memory) then draw the
        # same random numbers from here on.
        if not cfg.reset_each_cycle and self.models is not None:
            self._carried = self.models.state_dict()
        game_cfg = cfg if cfg.game == "adversarial" else replace(cfg, adversary_param=0.0)
        self.models = VAALModels(ctx.batches.channels, game_cfg, runtime, ctx.device)
        if self._carried is not None and not cfg.reset_each_cycle:
            self.models.load_state_dict(self._carried)
        augment = self.spec.task.augment
        drop_last = "drop_last" in self.spec.protocol.quirks
        lab = _endless_batches(labeled, cfg.batch_size, ctx.generator, ctx.device, drop_last)
        unl = _endless_batches(unlabeled, cfg.batch_size, ctx.generator, ctx.device)

        def draw():
            return self._images(ctx, next(lab), augment), self._images(ctx, next(unl), augment)

        iterations = vaal_iterations(  # the original code: as many as the task model's
            self.spec, len(ctx.pool.labeled), ctx.batches.split_size("train"), len(ctx.pool)
        )
        phases = [(True, True)] if cfg.game == "adversarial" else [(True, False), (False, True)]
        meter, means = LossMeter(ctx.device), {}  # losses stay on the device between reads
        decay_every = max(1, int(cfg.lr_step_fraction * iterations)) if cfg.lr_step_fraction else 0
        for vae_on, disc_on in phases:
            bar = tqdm(range(iterations), desc="vaal", leave=False, disable=not ctx.progress)
            for it in bar:
                if decay_every and it % decay_every == 0:  # 395da2e: x0.9 at it = k x every
                    self.models.set_lr_factor(cfg.lr_gamma ** (it // decay_every))
                x_l, x_u = draw()
                for step in range(cfg.num_vae_steps if vae_on else 0):
                    meter.add(vae=self.models.vae_step(x_l, x_u))
                    if step < cfg.num_vae_steps - 1:
                        x_l, x_u = draw()
                for step in range(cfg.num_adv_steps if disc_on else 0):
                    meter.add(disc=self.models.disc_step(x_l, x_u))
                    if step < cfg.num_adv_steps - 1:
                        x_l, x_u = draw()
                if it == 0:
                    failpoint("strategy_training", ctx.cycle)
                if (it + 1) % runtime.log_every == 0 or it + 1 == iterations:
                    means |= meter.read()  # the loop's one host synchronisation, every log_every
                    bar.set_postfix({k: f"{v:.3f}" for k, v in means.items()}, refresh=False)
        # what the cycle record keeps: mean losses over the last reading window (read above)
        ctx.stats.update({f"vaal_{k}_loss": round(v, 6) for k, v in means.items()})
        self.last_disc_loss = means.get("disc")
        if self.models.compile_fallbacks:
            ctx.stats["compile_fallbacks"] = self.models.compile_fallbacks

    def score_pool(
        self, ctx: QueryContext, idx: np.ndarray, batch_size: int | None = None
    ) -> torch.Tensor:
        """P(labeled) of images `idx`, on the device."""
        batch_size = (
            batch_size or ctx.batches.kind.vaal_score_batch or self.spec.task.eval_batch_size
        )
        quirks = self.spec.protocol.quirks
        t = torch.as_tensor(idx, dtype=torch.long)
        train_mode = "train_mode_scoring" in quirks
        if train_mode:  # BN statistics of shuffled loader-sized batches, as the original's loader
            batch_size = self.spec.vaal.batch_size
            order = torch.randperm(len(t), generator=ctx.generator)
            t = t[order]
        t = device_index(t, ctx.device)
        flip = "flip_when_scoring" in quirks
        chunks = (
            self._scoring_view(ctx, t[s : s + batch_size], flip)
            for s in range(0, len(t), batch_size)
        )
        scores = self.models.score(chunks, train_mode=train_mode)
        if train_mode:  # back to the order of `idx`
            scores = scores[device_index(torch.argsort(order), scores.device)]
        return scores

    def _scoring_view(self, ctx: QueryContext, idx: torch.Tensor, flip: bool) -> torch.Tensor:
        """Images as scored: no augmentation, or (`flip_when_scoring`) a coin-flip mirror each."""
        x = self._images(ctx, idx, augment=False)
        if flip:
            coin = torch.rand(len(x), generator=ctx.generator) < 0.5
            x = torch.where(device_index(coin, x.device).view(-1, 1, 1, 1), x.flip(-1), x)
        return x

    def select(self, ctx: QueryContext, budget: int) -> np.ndarray:
        held_l, held_u = self._holdout(ctx)
        self.train(
            ctx, np.setdiff1d(ctx.pool.labeled, held_l), np.setdiff1d(ctx.pool.unlabeled, held_u)
        )
        unlabeled = ctx.pool.unlabeled
        self.last_scores = self.score_pool(ctx, unlabeled)
        # least likely to be labeled first; a stable sort keeps ties deterministic. The scores
        # come to the host here, once per cycle, as the selection's indices.
        picked = torch.argsort(self.last_scores, stable=True)[:budget].cpu().numpy()
        ctx.stats.update(self._diagnostics(ctx, held_l, held_u, self.last_scores.cpu(), picked))
        return np.sort(unlabeled[picked])

    # ------------------------------------------------------------------ diagnostics
    def _holdout(self, ctx: QueryContext) -> tuple[np.ndarray, np.ndarray]:
        """Labeled and unlabeled images kept out of training (drawn from ctx.rng: seed, cycle)."""
        n = 0 if "no_vaal_holdout" in self.spec.protocol.quirks else self.spec.vaal.diag_holdout

        def sample(idx: np.ndarray) -> np.ndarray:
            k = min(n, len(idx) // 10)
            return np.sort(ctx.rng.choice(idx, size=k, replace=False)) if k else idx[:0]

        return sample(ctx.pool.labeled), sample(ctx.pool.unlabeled)

    @torch.inference_mode()
    def _vae_numbers(self, ctx: QueryContext, idx: np.ndarray) -> dict[str, float]:
        """Reconstruction MSE, KL per image and active units of the VAE in eval mode on `idx`."""
        if len(idx) == 0:
            return {}
        vae = self.models.vae.eval()
        idx_t = torch.as_tensor(idx, dtype=torch.long)
        mus, sq, kl, numel = [], 0.0, 0.0, 0
        for s in range(0, len(idx_t), 512):  # chunked reads: a segmentation set is large
            xb = self._images(ctx, idx_t[s : s + 512], augment=False)
            numel += xb.numel()
            recon, _, mu, logvar = vae(xb)
            mus.append(mu.float())
            sq += F.mse_loss(recon.float(), xb.float(), reduction="sum").item()
            kl += (
                (-0.5 * (1 + logvar.float() - mu.float() ** 2 - logvar.float().exp())).sum().item()
            )
        return {
            "vae_recon": round(sq / numel, 6),
            "vae_kl": round(kl / len(idx_t), 6),
            "active_units": active_units(torch.cat(mus)),
            "latent_dim": self.spec.vaal.latent_dim,
        }

    def _diagnostics(self, ctx, held_l, held_u, scores_u: torch.Tensor, picked) -> dict[str, Any]:
        """What the game produced: how well the discriminator separates the sets, the VAE's state.

        Runs once per cycle, after the selection: its host reads are outside the hot loop.
        """
        s_u = scores_u.numpy()
        s_l = self.score_pool(ctx, ctx.pool.labeled).cpu().numpy()
        in_l, in_u = np.isin(ctx.pool.labeled, held_l), np.isin(ctx.pool.unlabeled, held_u)
        out: dict[str, Any] = {
            "p_labeled_labeled": round(float(s_l.mean()), 6) if len(s_l) else None,
            "p_labeled_unlabeled": round(float(s_u.mean()), 6) if len(s_u) else None,
            "p_labeled_selected": round(float(s_u[picked].mean()), 6) if len(picked) else None,
            "disc_auc_train": round(roc_auc(s_l[~in_l], s_u[~in_u]), 6),
            "disc_loss": None if self.last_disc_loss is None else round(self.last_disc_loss, 6),
            "n_heldout_labeled": int(in_l.sum()),
            "n_heldout_unlabeled": int(in_u.sum()),
        }
        if in_l.any() and in_u.any():
            out |= {
                "disc_auc": round(roc_auc(s_l[in_l], s_u[in_u]), 6),
                "disc_auc_band": round(auc_chance_band(int(in_l.sum()), int(in_u.sum())), 6),
                "disc_acc": round(accuracy_at_half(s_l[in_l], s_u[in_u]), 6),
            }
        if len(held_l) or len(held_u):
            return out | self._vae_numbers(ctx, np.concatenate([held_l, held_u]))
        # nothing held out (as the original): the VAE's numbers on images it trained on
        n = self.spec.vaal.diag_holdout or 256
        seen = [
            np.sort(ctx.rng.choice(s, min(n, len(s)), replace=False)) if len(s) else s
            for s in (ctx.pool.labeled, ctx.pool.unlabeled)
        ]
        return out | {"diagnostics": "in_sample"} | self._vae_numbers(ctx, np.concatenate(seen))

    @property
    def carries_state(self) -> bool:
        return not self.spec.vaal.reset_each_cycle

    def state_dict(self) -> dict[str, Any] | None:
        if self.spec.vaal.reset_each_cycle or self.models is None:
            return None
        return self.models.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._carried = state
