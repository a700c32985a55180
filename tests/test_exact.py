"""The bug-for-bug presets (`paper-exact`, `release-exact`) and each switch they are made of.

Observations go through real runs and PyTorch's own hooks: a forward pre-hook on every Dropout
tells whether the task model was in train mode for each training step (grad enabled) and a wrapper
around `VAE.encode` sees what the VAE was fed and its weights at its first call.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
import torch
from torch import nn

from tests.fixtures.datasets import write_cifar
from tests.helpers import tiny_spec
from vaal_core.run.loop import ActiveLoop
from vaal_core.run.pool import Pool
from vaal_core.spec import SpecError, spec_from_dict
from vaal_core.spec.quirks import QUIRKS, Quirks
from vaal_core.strategies import QueryContext
from vaal_core.train import trainer as trainer_mod
from vaal_core.train.batches import Batches
from vaal_core.train.device import seed_everything
from vaal_core.train.trainer import train_task_model
from vaal_core.vaal import VAE, Discriminator, VAALModels, VAALStrategy
from vaal_core.vaal.options import VAALOptions


@pytest.fixture
def no_md5(monkeypatch):
    """Bypass only torchvision's md5 comparison of CIFAR's pickles (the fixture cannot match it)."""
    import torchvision.datasets.cifar as cifar

    monkeypatch.setenv("VAAL_NO_DOWNLOAD", "1")
    monkeypatch.setattr(cifar, "check_integrity", lambda fpath, md5=None: os.path.isfile(fpath))


# ----------------------------------------------------------------------------- spec
def test_unknown_quirk_names_the_key_and_the_valid_names():
    with pytest.raises(SpecError, match="'protocol.quirks' holds unknown quirk 'eval_mode'") as e:
        spec_from_dict({"experiment": "x", "protocol": {"quirks": ["eval_mode"]}})
    assert all(name in str(e.value) for name in QUIRKS)
    with pytest.raises(SpecError, match="lists a quirk twice"):
        spec_from_dict({"experiment": "x", "protocol": {"quirks": ["drop_last", "drop_last"]}})
    with pytest.raises(SpecError, match="'vaal.input_range' is 'raw'; valid values"):
        VAALOptions.of(spec_from_dict({"experiment": "x", "vaal": {"input_range": "raw"}}))


def test_new_keys_stay_out_of_the_hash_at_their_defaults():
    plain = spec_from_dict({"experiment": "x"})
    assert not {"quirks"} & set(plain.to_dict()["protocol"])
    assert not {"input_range", "init", "lr_step_fraction", "lr_gamma"} & set(
        plain.to_dict()["vaal"]
    )
    stated = spec_from_dict({"experiment": "x", "vaal": {"input_range": "standardized"}})
    assert stated.hash() == plain.hash()
    assert (
        spec_from_dict({"experiment": "x", "vaal": {"input_range": "unit"}}).hash() != plain.hash()
    )


def test_exact_presets_are_the_corrected_ones_plus_their_switches():
    paper, exact = (
        spec_from_dict({"experiment": "x", "protocol": p}) for p in ("paper", "paper-exact")
    )
    ex, pa = VAALOptions.of(exact), VAALOptions.of(paper)
    assert (exact.task, ex.disc_layers) == (paper.task, pa.disc_layers)
    assert paper.protocol.quirks == () and pa.input_range == "standardized"
    assert (ex.input_range, ex.init, ex.lr_step_fraction) == ("unit", "original", 0.04)
    assert (
        exact.protocol.initial_size == "budget"
        and "eval_mode_training" not in exact.protocol.quirks
    )
    release = spec_from_dict({"experiment": "x", "protocol": "release-exact"})
    assert release.task.optimizer == "sgd" and release.task.val_every == 1000
    rel = VAALOptions.of(release)
    assert (rel.input_range, rel.lr_step_fraction) == ("symmetric", None)
    assert {"eval_mode_training", "no_vaal_holdout"} <= set(release.protocol.quirks)
    # a spec's own value still wins over the preset
    own = spec_from_dict(
        {"experiment": "x", "protocol": "release-exact", "vaal": {"init": "suite"}}
    )
    assert VAALOptions.of(own).init == "suite"


# ----------------------------------------------------------------------------- initialisation
def _default_std(fan_in: int) -> float:
    """PyTorch's default nn.Linear/Conv weight init: U(-b, b), b = 1/sqrt(fan_in)."""
    return 1 / math.sqrt(3 * fan_in)


def test_original_init_matches_model_py_weight_init():
    torch.manual_seed(0)
    vae = VAE(3, latent_dim=32, image_size=32, width=32, init="original")
    conv = vae.encoder[3]  # second encoder conv: 32 -> 64 channels, 4x4
    fan_in = conv.weight[0].numel()
    assert conv.weight.std().item() == pytest.approx(math.sqrt(2 / fan_in), rel=0.05)
    fc_dec = vae.fc_dec  # the decoder's first Linear: kaiming, zero bias
    assert fc_dec.weight.std().item() == pytest.approx(math.sqrt(2 / 32), rel=0.05)
    assert torch.count_nonzero(fc_dec.bias) == 0
    # fc_mu/fc_logvar keep PyTorch's default (weight_init passes their *name*), bias included
    fan = vae.fc_mu.in_features
    for fc in (vae.fc_mu, vae.fc_logvar):
        assert fc.weight.std().item() == pytest.approx(_default_std(fan), rel=0.05)
        assert torch.count_nonzero(fc.bias) == fc.bias.numel()
    # transposed convs keep the default too (kaiming_init matches Linear and Conv2d only)
    tconv = vae.decoder[0]
    t_fan = tconv.weight.shape[1] * tconv.weight[0, 0].numel()
    assert tconv.weight.std().item() == pytest.approx(_default_std(t_fan), rel=0.05)
    disc = Discriminator(32, 512, 2, init="original")
    for lin in (m for m in disc.net if isinstance(m, nn.Linear)):
        assert lin.weight.std().item() == pytest.approx(math.sqrt(2 / lin.in_features), rel=0.1)
        assert torch.count_nonzero(lin.bias) == 0


def test_suite_init_is_kaiming_everywhere_in_the_vae_and_default_in_the_discriminator():
    torch.manual_seed(0)
    vae = VAE(3, latent_dim=32, image_size=32, width=32)
    fan = vae.fc_mu.in_features
    assert vae.fc_mu.weight.std().item() == pytest.approx(math.sqrt(2 / fan), rel=0.05)
    assert torch.count_nonzero(vae.fc_mu.bias) == 0
    disc = Discriminator(32, 512, 2)
    assert torch.count_nonzero(disc.net[0].bias) > 0  # PyTorch's default bias


# ----------------------------------------------------------------------------- trainer switches
def _train_modes(spec, mnist, quirks=(), n_labeled=20, val=None):
    """(train mode, batch size) of every training step, seen by a hook on the model's Dropout."""
    seen: list[tuple[bool, int]] = []
    model = nn.Sequential(nn.Flatten(), nn.Dropout(0.1), nn.Linear(32 * 32, 10))

    def hook(module, args):
        if torch.is_grad_enabled():
            seen.append((module.training, len(args[0])))

    model[1].register_forward_pre_hook(hook)
    batches = Batches(mnist, torch.device("cpu"))
    train_task_model(
        model,
        batches,
        np.arange(n_labeled),
        spec.task,
        spec.runtime,
        torch.Generator().manual_seed(0),
        val=val,
        progress=False,
        quirks=Quirks.of(quirks),
    )
    return seen


def test_eval_mode_training_after_the_first_validation(mnist, monkeypatch):
    calls = []
    real = trainer_mod.evaluate
    monkeypatch.setattr(trainer_mod, "evaluate", lambda *a, **k: calls.append(1) or real(*a, **k))
    spec = tiny_spec(task={"iterations": 10, "batch_size": 8, "val_every": 4})
    val = np.arange(100, 120)
    modes = _train_modes(spec, mnist, ("eval_mode_training",), val=val)
    assert [m for m, _ in modes] == [True] + [False] * 9  # validated after step 1, then eval
    assert len(calls) == 3  # after steps 1, 5 and 9 (the release's iter_count % N == 0)
    assert all(m for m, _ in _train_modes(spec, mnist, val=val))  # without the quirk: train mode
    per_pass = tiny_spec(task={"iterations": 10, "batch_size": 8})
    calls.clear()
    _train_modes(per_pass, mnist, val=val)
    assert len(calls) == 4  # once per pass of ceil(20 / 8) = 3 steps: after 3, 6, 9 and 10


def test_drop_last_drops_each_passs_partial_batch(mnist):
    spec = tiny_spec(task={"iterations": 6, "batch_size": 8})
    assert [b for _, b in _train_modes(spec, mnist, ("drop_last",))] == [8] * 6
    assert [b for _, b in _train_modes(spec, mnist)] == [8, 8, 4, 8, 8, 4]
    small = [b for _, b in _train_modes(spec, mnist, ("drop_last",), n_labeled=5)]
    assert small == [5] * 6  # fewer images than a batch: the one partial batch is kept


# ----------------------------------------------------------------------------- VAAL switches
def _ctx(spec, data, labeled, candidates):
    return QueryContext(
        spec=spec,
        pool=Pool(candidates, labeled),
        task_model=nn.Identity(),
        batches=Batches(data, torch.device("cpu")),
        rng=np.random.default_rng(0),
        generator=seed_everything(0, 0, 2),
        cycle=0,
        progress=False,
    )


def test_vaal_lr_decays_as_395da2e(mnist, monkeypatch):
    factors = []
    real = VAALModels.set_lr_factor
    monkeypatch.setattr(VAALModels, "set_lr_factor", lambda m, f: factors.append(f) or real(m, f))
    spec = tiny_spec(vaal={"width": 8, "epochs": 1.0, "batch_size": 64, "lr_step_fraction": 0.25})
    strategy = VAALStrategy(spec)
    ctx = _ctx(spec, mnist, np.arange(40), np.arange(600))
    strategy.train(ctx)  # ceil(600 / 64) = 10 iterations: x0.9 at 2, 4, 6, 8
    assert factors == pytest.approx([1.0, 0.9, 0.81, 0.729, 0.6561])
    lr = strategy.models.opt_vae.param_groups[0]["lr"]
    assert lr == pytest.approx(5e-4 * 0.9**4) == strategy.models.opt_disc.param_groups[0]["lr"]


def test_train_mode_scoring_with_flips_depends_on_the_draw(mnist):
    spec = tiny_spec(protocol={"quirks": ["train_mode_scoring", "flip_when_scoring"]})
    strategy = VAALStrategy(spec)
    ctx = _ctx(spec, mnist, np.arange(40), np.arange(600))
    strategy.train(ctx)
    idx = ctx.pool.unlabeled
    a, b = strategy.score_pool(ctx, idx), strategy.score_pool(ctx, idx)
    assert a.shape == (len(idx),) and not torch.equal(a, b)  # new batches and flips each time
    assert strategy.models.vae.training  # BN on batch statistics, as the original's sampler


# ----------------------------------------------------------------------------- the presets end to end
def _fixture_spec(protocol: str) -> dict:
    return {
        "experiment": f"exact_{protocol}",
        "protocol": protocol,
        "dataset": {"name": "cifar10", "image_size": 32},
        "task": {"model": "small_cnn", "iterations": 4, "batch_size": 8, "eval_batch_size": 64},
        "active": {"initial": 8, "budget": 6, "cycles": 2},
        "vaal": {"width": 8, "batch_size": 8, "latent_dim": 8},
        "runtime": {"precision": "fp32", "num_threads": 1},
    }


def _observed_run(tmp_path, protocol, monkeypatch):
    """Run the preset on the CIFAR fixture; return its records and what the hooks saw."""
    write_cifar(tmp_path / "data", per_batch=8, n_test=6)
    seen = {"task_train_modes": [], "vae_in": [], "vae_first": None}

    def dropout_hook(module, args):  # the task model's Dropout (neither VAAL network has one)
        if torch.is_grad_enabled():
            seen["task_train_modes"].append(module.training)

    real_encode = VAE.encode

    def encode(self, x):
        seen["vae_in"].append((x.min().item(), x.max().item()))
        if seen["vae_first"] is None:
            seen["vae_first"] = {n: p.detach().clone() for n, p in self.named_parameters()}
        return real_encode(self, x)

    monkeypatch.setattr(VAE, "encode", encode)
    handle = nn.modules.module.register_module_forward_pre_hook(
        lambda m, a: dropout_hook(m, a) if isinstance(m, nn.Dropout) else None
    )
    try:
        spec = spec_from_dict(_fixture_spec(protocol))
        records = ActiveLoop(
            spec, "vaal", 0, tmp_path / "out", data_root=tmp_path / "data", progress=False
        ).run()
    finally:
        handle.remove()
    return spec, records, seen


def test_release_exact_on_the_cifar_fixture(tmp_path, no_md5, monkeypatch):
    spec, records, seen = _observed_run(tmp_path, "release-exact", monkeypatch)
    # the task model: one step in train mode, validated (iteration 0), then eval mode; per cycle
    assert seen["task_train_modes"] == [True, False, False, False] * 2
    lo, hi = min(v[0] for v in seen["vae_in"]), max(v[1] for v in seen["vae_in"])
    assert -1 <= lo < -0.5 and 0.5 < hi <= 1  # fed [-1, 1]
    first = seen["vae_first"]  # the original's init: fc_mu default (non-zero bias), fc_dec zero
    assert (
        torch.count_nonzero(first["fc_mu.bias"]) > 0
        and torch.count_nonzero(first["fc_dec.bias"]) == 0
    )
    stats = records[0]["query_stats"]
    assert stats["n_heldout_labeled"] == stats["n_heldout_unlabeled"] == 0
    assert stats["diagnostics"] == "in_sample" and "disc_auc" not in stats and "vae_recon" in stats
    assert all(r["quirks"] == list(spec.protocol.quirks) for r in records)
    assert "eval_mode_training" in records[0]["quirks"]


def test_paper_exact_on_the_cifar_fixture(tmp_path, no_md5, monkeypatch):
    spec, records, seen = _observed_run(tmp_path, "paper-exact", monkeypatch)
    assert seen["task_train_modes"] == [True] * 8  # 395da2e never validates: train mode all along
    lo, hi = min(v[0] for v in seen["vae_in"]), max(v[1] for v in seen["vae_in"])
    assert 0 <= lo < 0.25 and 0.75 < hi <= 1  # fed [0, 1]
    first = seen["vae_first"]
    assert (
        torch.count_nonzero(first["fc_mu.bias"]) > 0
        and torch.count_nonzero(first["fc_dec.bias"]) == 0
    )
    assert records[0]["n_labeled"] == 6  # 395da2e's initial set: `budget` images
    assert records[0]["query_stats"]["diagnostics"] == "in_sample"
    assert (
        records[0]["quirks"] == list(spec.protocol.quirks) and "drop_last" in records[0]["quirks"]
    )


def test_records_without_quirks_have_no_quirks_field(tmp_path, mnist):
    records = ActiveLoop(
        tiny_spec(active={"cycles": 1}), "random", 0, tmp_path, progress=False, data=mnist
    ).run()
    assert "quirks" not in records[0]
