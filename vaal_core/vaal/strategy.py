"""VAAL as a query strategy: train the game on the labeled and unlabeled pool, score the pool,
pick the images the discriminator finds least likely labeled; diagnostics of what the game learned."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from ..failpoints import failpoint
from ..run import tensorboard
from ..spec import Spec
from ..strategies import Picks, QueryContext, ScoreKind, Strategy, register_strategy
from ..train.device import device_index
from ..train.hostsync import LossMeter
from .game import VAALModels, endless_batches, vaal_iterations
from .metrics import accuracy_at_half, active_units, auc_chance_band, roc_auc
from .options import SECTION, VAALOptions


@register_strategy("vaal")
class VAALStrategy(Strategy):
    # task-agnostic (the paper's point): the VAE sees images resized to vaal.image_size
    task_kinds = frozenset({"classification", "segmentation"})
    # its settings: the spec's `vaal:` section (vaal/options.py), read as `self.options`
    options_type, options_section = VAALOptions, SECTION
    options: VAALOptions
    score = ScoreKind(
        "p_labeled",
        "the discriminator's probability that the image is labeled; the lowest are picked first",
        higher_first=False,
    )

    def __init__(self, spec: Spec):
        super().__init__(spec)
        self.models: VAALModels | None = None
        self._carried: dict[str, Any] | None = None
        self.last_disc_loss: float | None = None

    def _images(self, ctx: QueryContext, idx: torch.Tensor, augment: bool) -> torch.Tensor:
        x = ctx.batches.images(idx, augment=augment, generator=ctx.generator)
        size = self.options.image_size
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
        rng = self.options.input_range
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
        cfg, runtime = self.options, self.spec.runtime
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
        self.models.keep_terms = tensorboard.watching()
        augment = self.spec.task.augment
        drop_last = self.spec.quirks.drop_last
        lab = endless_batches(labeled, cfg.batch_size, ctx.generator, ctx.device, drop_last)
        unl = endless_batches(unlabeled, cfg.batch_size, ctx.generator, ctx.device)

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
                    meter.add(vae=self.models.vae_step(x_l, x_u), **self.models.last_terms)
                    if step < cfg.num_vae_steps - 1:
                        x_l, x_u = draw()
                for step in range(cfg.num_adv_steps if disc_on else 0):
                    meter.add(disc=self.models.disc_step(x_l, x_u))
                    if step < cfg.num_adv_steps - 1:
                        x_l, x_u = draw()
                if it == 0:
                    failpoint("strategy_training", ctx.cycle)
                if (it + 1) % runtime.log_every == 0 or it + 1 == iterations:
                    window = meter.read()  # the loop's one host synchronisation, every log_every
                    means |= {k: v for k, v in window.items() if k in ("vae", "disc")}
                    tensorboard.vaal_window(it + 1, window)
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
        quirks = self.spec.quirks
        t = torch.as_tensor(idx, dtype=torch.long)
        train_mode = quirks.train_mode_scoring
        if train_mode:  # BN statistics of shuffled loader-sized batches, as the original's loader
            batch_size = self.options.batch_size
            order = torch.randperm(len(t), generator=ctx.generator)
            t = t[order]
        t = device_index(t, ctx.device)
        flip = quirks.flip_when_scoring
        chunks = (
            self._scoring_view(ctx, t[s : s + batch_size], flip)
            for s in range(0, len(t), batch_size)
        )
        scores = self.models.score(chunks, len(t), train_mode=train_mode)
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

    def select(self, ctx: QueryContext, budget: int) -> Picks:
        held_l, held_u = self._holdout(ctx)
        self.train(
            ctx, np.setdiff1d(ctx.pool.labeled, held_l), np.setdiff1d(ctx.pool.unlabeled, held_u)
        )
        unlabeled = ctx.pool.unlabeled
        scores = self.score_pool(ctx, unlabeled)
        # least likely to be labeled first; a stable sort keeps ties deterministic. The scores
        # come to the host here, once per cycle, as the selection's indices.
        picked = torch.argsort(scores, stable=True)[:budget].cpu().numpy()
        scores = scores.cpu()
        ctx.stats.update(self._diagnostics(ctx, held_l, held_u, scores, picked))
        return Picks(unlabeled[picked], scores.double().numpy()[picked])

    # ------------------------------------------------------------------ diagnostics
    def _holdout(self, ctx: QueryContext) -> tuple[np.ndarray, np.ndarray]:
        """Labeled and unlabeled images kept out of training (drawn from ctx.rng: seed, cycle)."""
        n = 0 if self.spec.quirks.no_vaal_holdout else self.options.diag_holdout

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
            "latent_dim": self.options.latent_dim,
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
        n = self.options.diag_holdout or 256
        seen = [
            np.sort(ctx.rng.choice(s, min(n, len(s)), replace=False)) if len(s) else s
            for s in (ctx.pool.labeled, ctx.pool.unlabeled)
        ]
        return out | {"diagnostics": "in_sample"} | self._vae_numbers(ctx, np.concatenate(seen))

    @property
    def carries_state(self) -> bool:
        return not self.options.reset_each_cycle

    def state_dict(self) -> dict[str, Any] | None:
        if self.options.reset_each_cycle or self.models is None:
            return None
        return self.models.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._carried = state
