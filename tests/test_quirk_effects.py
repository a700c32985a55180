"""Each quirk and each value an `-exact` preset sets, measured where a mistake would show.

The VAE-discriminator game is replaced by recording stubs where only the wiring is under test
(which images reach a step, in which batches, in which mode, how many steps, how many
iterations); its arithmetic is tested in tests/test_vaal.py. The scoring stub scores each image
by a function of its own pixels, so a score that lands on another image shows. `make mutate`
(benchmarks/mutate.py) breaks each effect site on purpose and expects these tests to fail.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from torch import nn

from tests.helpers import TINY
from vaal_core.run.loop import ActiveLoop
from vaal_core.run.pool import Pool
from vaal_core.spec import SpecError, apply_override, load_spec, spec_from_dict
from vaal_core.spec.protocols import force_preset_values
from vaal_core.strategies import QueryContext
from vaal_core.train import trainer as trainer_mod
from vaal_core.train.batches import Batches
from vaal_core.train.device import seed_everything
from vaal_core.train.schedules import total_iterations
from vaal_core.train.trainer import train_for_spec
from vaal_core.vaal import VAALModels, VAALStrategy
from vaal_core.vaal import strategy as strategy_mod
from vaal_core.vaal.game import vaal_iterations

REPO = Path(__file__).resolve().parent.parent
EXACT = ("paper-exact", "release-exact")
POOL, LABELED, VAAL_BATCH = 600, 150, 64  # 150 labeled = 2 batches of 64 + a partial one of 22


UNSTATED = object()  # a key left out of the spec, so the preset's value applies


def _spec(protocol: str | None = None, quirks: tuple[str, ...] | None = None, **sections):
    """A small MNIST spec; the preset's values stay unstated so the preset decides them."""
    data = {
        "experiment": "quirk_effects",
        "dataset": {"name": "mnist", "image_size": 32},
        "task": {"model": "small_cnn", "iterations": 4, "batch_size": 128, "eval_batch_size": 512},
        "vaal": {"width": 8, "batch_size": VAAL_BATCH, "latent_dim": 8},
        "runtime": {"precision": "fp32", "num_threads": 1},
    }
    if protocol:
        data["protocol"] = protocol
    if quirks is not None:
        data["protocol"] = {"quirks": list(quirks)}
    for section, values in sections.items():
        merged = {**data.get(section, {}), **values}
        data[section] = {k: v for k, v in merged.items() if v is not UNSTATED}
    return spec_from_dict(data)


def _ctx(spec, data, labeled, candidates, seed=0):
    return QueryContext(
        spec=spec,
        pool=Pool(candidates, labeled),
        task_model=nn.Identity(),
        batches=Batches(data, torch.device("cpu")),
        rng=np.random.default_rng(seed),
        generator=seed_everything(seed, 0, 2),
        cycle=0,
        progress=False,
    )


def _asymmetry(x: torch.Tensor) -> torch.Tensor:
    """Left half minus right half of each image: a horizontal flip negates it exactly."""
    w = x.shape[-1] // 2
    return x[..., :w].sum((1, 2, 3)) - x[..., w:].sum((1, 2, 3))


class GameRecorder:
    """Stubs for the game's steps and its scoring function; what each one was handed."""

    def __init__(self, monkeypatch, score=_asymmetry):
        self.vae_steps: list[int] = []  # labeled batch size of each VAE step
        self.vae_unlabeled: list[int] = []  # unlabeled batch size of each VAE step
        self.disc_steps: list[int] = []
        self.score_batches: list[torch.Tensor] = []  # images as the scoring pass saw them
        self.score_modes: list[bool] = []  # the VAE's train mode at each scoring batch
        self.lr_factors: list[float] = []
        rec = self

        def vae_step(self, x_l, x_u):
            rec.vae_steps.append(len(x_l))
            rec.vae_unlabeled.append(len(x_u))
            return torch.zeros(())

        def disc_step(self, x_l, x_u, encoder_only=True):
            rec.disc_steps.append(len(x_l))
            return torch.zeros(())

        def score_fn(self, x, encoder_only=True):
            rec.score_batches.append(x.detach().clone())
            rec.score_modes.append(self.vae.training)
            return score(x)

        real_factor = VAALModels.set_lr_factor

        def set_lr_factor(self, factor):
            rec.lr_factors.append(factor)
            real_factor(self, factor)

        monkeypatch.setattr(VAALModels, "vae_step", vae_step)
        monkeypatch.setattr(VAALModels, "disc_step", disc_step)
        monkeypatch.setattr(VAALModels, "_score_fn", score_fn)
        monkeypatch.setattr(VAALModels, "set_lr_factor", set_lr_factor)

    @property
    def seen(self) -> torch.Tensor:
        return torch.cat(self.score_batches)


def _views(ctx, strategy, idx) -> torch.Tensor:
    """The images `idx` as the VAE sees them unflipped, in the order of `idx`."""
    return strategy._images(ctx, torch.as_tensor(idx, dtype=torch.long), augment=False)


def _scored(spec, mnist, monkeypatch, score=_asymmetry):
    rec = GameRecorder(monkeypatch, score)
    strategy = VAALStrategy(spec)
    ctx = _ctx(spec, mnist, np.arange(LABELED), np.arange(POOL))
    strategy.train(ctx)
    rec.score_batches.clear()
    rec.score_modes.clear()
    idx = ctx.pool.unlabeled
    return rec, strategy, ctx, idx, strategy.score_pool(ctx, idx)


# ----------------------------------------------------------------------------- train_mode_scoring
def _brightness(x: torch.Tensor) -> torch.Tensor:
    return x.float().mean((1, 2, 3))


def test_train_mode_scores_land_on_their_own_images_after_the_shuffle(mnist, monkeypatch):
    rec, strategy, ctx, idx, scores = _scored(
        _spec(quirks=("train_mode_scoring",)), mnist, monkeypatch, _brightness
    )
    truth = _brightness(_views(ctx, strategy, idx))
    outlier = int(torch.argmax(truth))  # the brightest image of the pool: its score is the largest
    assert int(torch.argmax(scores)) == outlier
    assert torch.equal(scores, truth)  # every score at its own image's position
    seen = _brightness(rec.seen)
    assert not torch.equal(seen, truth)  # scored in a shuffled order...
    assert torch.equal(torch.sort(seen).values, torch.sort(truth).values)  # ...of the same images
    # BatchNorm on the statistics of loader-sized batches: vaal.batch_size, not the eval batch
    assert [len(b) for b in rec.score_batches] == [VAAL_BATCH] * 7 + [len(idx) - 7 * VAAL_BATCH]
    assert all(rec.score_modes)


def test_without_train_mode_scoring_the_pool_is_scored_in_order_in_eval_mode(mnist, monkeypatch):
    rec, strategy, ctx, idx, scores = _scored(_spec(), mnist, monkeypatch, _brightness)
    truth = _brightness(_views(ctx, strategy, idx))
    assert torch.equal(scores, truth) and torch.equal(_brightness(rec.seen), truth)
    assert [len(b) for b in rec.score_batches] == [len(idx)]  # the kind's scoring batch (1,024)
    assert not any(rec.score_modes)


# ----------------------------------------------------------------------------- flip_when_scoring
def _flipped(rec, strategy, ctx, idx) -> np.ndarray:
    """Which images were scored mirrored, in the order of `idx`; every scored image must be its
    own image or its exact mirror. An image and its mirror share x + x.flip(-1) bit for bit: that
    key finds each scored image's own position whatever order it was scored in."""
    plain = _views(ctx, strategy, idx)
    seen = rec.seen
    assert len(seen) == len(plain), f"{len(seen)} images scored for a pool of {len(plain)}"

    def key(x: torch.Tensor) -> bytes:
        return (x + x.flip(-1)).numpy().tobytes()

    where = {key(x): i for i, x in enumerate(plain)}
    assert len(where) == len(plain)  # no two pool images share a key
    flipped = np.zeros(len(plain), dtype=bool)
    for s in seen:
        i = where[key(s)]
        mirror = plain[i].flip(-1)
        assert torch.equal(s, plain[i]) or torch.equal(s, mirror)
        flipped[i] = not torch.equal(s, plain[i])
    return flipped


def _binomial_ok(k: int, n: int) -> bool:
    """Within 4 sd of n/2 (a fixed seed: the test is deterministic; the bound says why it holds)."""
    return abs(k - n / 2) <= 4 * (n / 4) ** 0.5


@pytest.mark.parametrize("train_mode", [False, True], ids=["eval_mode", "train_mode"])
def test_flips_happen_when_scoring_with_probability_one_half(mnist, monkeypatch, train_mode):
    quirks = ("flip_when_scoring",) + (("train_mode_scoring",) if train_mode else ())
    rec, strategy, ctx, idx, scores = _scored(_spec(quirks=quirks), mnist, monkeypatch)
    flipped = _flipped(rec, strategy, ctx, idx)
    n = len(idx)
    assert _binomial_ok(int(flipped.sum()), n), (int(flipped.sum()), n)
    # each score is its own image's, mirrored (asymmetry negated) or not
    plain = _asymmetry(_views(ctx, strategy, idx))
    sign = torch.as_tensor(np.where(flipped, -1.0, 1.0), dtype=plain.dtype)
    assert torch.allclose(scores, sign * plain, atol=1e-3)
    # drawn afresh at each scoring: a second pass mirrors another half
    rec.score_batches.clear()
    strategy.score_pool(ctx, idx)
    again = _flipped(rec, strategy, ctx, idx)
    assert _binomial_ok(int(again.sum()), n) and (again != flipped).any()


def test_without_the_quirk_nothing_is_flipped_when_scoring(mnist, monkeypatch):
    rec, strategy, ctx, idx, scores = _scored(_spec(), mnist, monkeypatch)
    assert not _flipped(rec, strategy, ctx, idx).any()
    assert torch.equal(scores, _asymmetry(_views(ctx, strategy, idx)))


# ----------------------------------------------------------------------------- drop_last (VAAL)
def _trained(spec, mnist, monkeypatch, labeled=LABELED):
    rec = GameRecorder(monkeypatch)
    strategy = VAALStrategy(spec)
    ctx = _ctx(spec, mnist, np.arange(labeled), np.arange(POOL))
    strategy.train(ctx)
    return rec, strategy, ctx


def test_vaal_labeled_stream_drops_its_partial_batch(mnist, monkeypatch):
    # 10 iterations x 2 VAE steps read the labeled stream 20 times: 6 passes of 150 images
    vaal = {"epochs": 10 * VAAL_BATCH / POOL}
    rec, _, _ = _trained(_spec(quirks=("drop_last",), vaal=vaal), mnist, monkeypatch)
    assert len(rec.vae_steps) == 20 and set(rec.vae_steps) == {VAAL_BATCH}
    # the unlabeled loader keeps its partial batch in both originals (drop_last=False)
    assert rec.vae_unlabeled[:8] == [VAAL_BATCH] * 7 + [450 - 7 * VAAL_BATCH]
    rec, _, _ = _trained(_spec(vaal=vaal), mnist, monkeypatch)
    assert rec.vae_steps[:6] == [64, 64, 22, 64, 64, 22]  # without it: each pass's last 22
    # fewer labeled images than a batch: the one partial batch is kept (the original would hang)
    rec, _, _ = _trained(_spec(quirks=("drop_last",), vaal=vaal), mnist, monkeypatch, labeled=40)
    assert set(rec.vae_steps) == {40}


def test_a_trainer_of_its_own_refuses_the_trainer_quirks(mnist, tmp_path):
    """The distributed trainer reproduces neither trainer quirk: the loop refuses each one."""

    def other_trainer(*args, **kwargs):
        raise AssertionError("never called")

    for quirk in ("eval_mode_training", "drop_last"):
        spec = _spec(quirks=(quirk,))
        with pytest.raises(SpecError, match=f"holds \\['{quirk}'\\]"):
            ActiveLoop(
                spec, "random", 0, tmp_path, progress=False, data=mnist, train_fn=other_trainer
            )
    spec = _spec(quirks=("train_mode_scoring", "flip_when_scoring", "no_vaal_holdout"))
    ActiveLoop(spec, "random", 0, tmp_path, progress=False, data=mnist, train_fn=other_trainer)


# ----------------------------------------------------------------------------- no_vaal_holdout
def test_no_vaal_holdout_trains_on_every_image_and_diagnoses_in_sample(mnist, monkeypatch):
    trained: list[tuple[int, int]] = []
    real = VAALStrategy.train

    def train(self, ctx, labeled=None, unlabeled=None):
        trained.append((len(labeled), len(unlabeled)))
        real(self, ctx, labeled, unlabeled)

    monkeypatch.setattr(VAALStrategy, "train", train)
    GameRecorder(monkeypatch)
    for quirks, held in ((("no_vaal_holdout",), (0, 0)), ((), (15, 45))):
        spec = _spec(quirks=quirks)
        ctx = _ctx(spec, mnist, np.arange(LABELED), np.arange(POOL))
        VAALStrategy(spec).select(ctx, 10)
        assert trained[-1] == (LABELED - held[0], POOL - LABELED - held[1])
        stats = ctx.stats
        assert (stats["n_heldout_labeled"], stats["n_heldout_unlabeled"]) == held
        assert (stats.get("diagnostics") == "in_sample") == (held == (0, 0))


# ----------------------------------------------------------------------------- the presets, resolved
# what each preset resolves to, checked on the models built and the steps taken
PRESET_EFFECTS = {
    "paper-exact": {"vae_steps": 1, "disc_hidden_layers": 4, "range": (0.0, 1.0), "decay": True},
    "release-exact": {
        "vae_steps": 2,
        "disc_hidden_layers": 2,
        "range": (-1.0, 1.0),
        "decay": False,
    },
}


@pytest.mark.parametrize("protocol", EXACT)
def test_exact_preset_resolves_to_the_originals_game(protocol, mnist, monkeypatch):
    want = PRESET_EFFECTS[protocol]
    # the demo spec as the CLI loads it under --protocol; 4 task (so VAAL) iterations
    sets = ["task.iterations=4", f"vaal.batch_size={VAAL_BATCH}", "vaal.latent_dim=8"]
    spec = load_spec(REPO / "experiments/mnist.yaml", sets, protocol=protocol)
    rec = GameRecorder(monkeypatch)
    strategy = VAALStrategy(spec)
    ctx = _ctx(spec, mnist, np.arange(LABELED), np.arange(POOL))
    picked = strategy.select(ctx, 10).indices
    assert len(rec.disc_steps) == 4 and len(rec.vae_steps) == 4 * want["vae_steps"]
    linears = [m for m in strategy.models.disc.net if isinstance(m, nn.Linear)]
    assert len(linears) == want["disc_hidden_layers"] + 1
    assert set(rec.vae_steps) == {VAAL_BATCH}  # drop_last on VAAL's labeled stream
    # the original init: fc_dec kaiming with zero bias, fc_mu PyTorch's default (non-zero bias)
    vae = strategy.models.vae
    assert torch.count_nonzero(vae.fc_dec.bias) == 0 and torch.count_nonzero(vae.fc_mu.bias) > 0
    assert all(m.weight.std() > 0.05 for m in linears)  # kaiming-normal, fan-in 8 and 512
    # scored in train mode, in shuffled vaal.batch_size batches, half of them mirrored
    assert all(rec.score_modes) and len(rec.score_batches[0]) == VAAL_BATCH
    lo, hi = want["range"]
    seen = rec.seen
    assert lo <= seen.min() < lo + 0.25 and hi - 0.25 < seen.max() <= hi
    # the 450 unlabeled + 150 labeled images of the diagnostics' second scoring, mirrored or not
    stats = ctx.stats
    assert stats["diagnostics"] == "in_sample" and stats["n_heldout_labeled"] == 0
    assert len(picked) == 10
    # 395da2e's VAE/discriminator lr: x0.9 every iterations // 25 (at least 1) steps
    assert (rec.lr_factors == pytest.approx([1.0, 0.9, 0.81, 0.729])) == want["decay"]
    assert rec.lr_factors == [] or want["decay"]


def test_release_exact_discriminator_trains_on_the_second_vae_pair(mnist, monkeypatch):
    """67263f3 solver.py: the first VAE step reads the iteration's pair, the second VAE step a
    fresh pair, and the discriminator step that second pair again: two pairs per iteration."""
    seen: list[tuple[str, float, float]] = []

    def vae_step(self, x_l, x_u):
        seen.append(("vae", float(x_l.sum()), float(x_u.sum())))
        return torch.zeros(())

    def disc_step(self, x_l, x_u, encoder_only=True):
        seen.append(("disc", float(x_l.sum()), float(x_u.sum())))
        return torch.zeros(())

    monkeypatch.setattr(VAALModels, "vae_step", vae_step)
    monkeypatch.setattr(VAALModels, "disc_step", disc_step)
    spec = _spec("release-exact", task={"iterations": 3})
    VAALStrategy(spec).train(_ctx(spec, mnist, np.arange(LABELED), np.arange(POOL)))
    assert [s[0] for s in seen] == ["vae", "vae", "disc"] * 3
    for i in range(3):
        first, second, disc = seen[3 * i : 3 * i + 3]
        assert disc[1:] == second[1:] and first[1:] != second[1:]
    assert len({s[1:] for s in seen if s[0] == "vae"}) == 6  # six distinct pairs were drawn


@pytest.mark.parametrize("protocol", EXACT)
def test_exact_preset_flips_its_scoring_images(protocol, mnist, monkeypatch):
    rec, strategy, ctx, idx, _ = _scored(_spec(protocol), mnist, monkeypatch)
    assert _binomial_ok(int(_flipped(rec, strategy, ctx, idx).sum()), len(idx))


def _train_observed(spec, mnist, monkeypatch, n_labeled: int, val, cap: int):
    """Train through train_for_spec; (real total steps, modes and batch sizes, validations).

    The step count is computed by the real formula, then capped at `cap` steps to stay fast.
    """
    totals: list[int] = []
    real_build = trainer_mod.build_optimization

    def build(params, task, n_lab, n_train):
        opt, sched, total = real_build(params, task, n_lab, n_train)
        totals.append(total)
        return opt, sched, min(total, cap)

    validations: list[int] = []
    real_eval = trainer_mod.evaluate
    monkeypatch.setattr(trainer_mod, "build_optimization", build)
    monkeypatch.setattr(
        trainer_mod, "evaluate", lambda *a, **k: validations.append(1) or real_eval(*a, **k)
    )
    steps: list[tuple[bool, int]] = []
    model = nn.Sequential(nn.Flatten(), nn.Dropout(0.1), nn.Linear(32 * 32, 10))
    model[1].register_forward_pre_hook(
        lambda m, a: steps.append((m.training, len(a[0]))) if torch.is_grad_enabled() else None
    )
    batches = Batches(mnist, torch.device("cpu"))
    train_for_spec(
        model, batches, np.arange(n_labeled), spec, torch.Generator().manual_seed(0), val, False
    )
    return totals[0], steps, len(validations)


def test_release_exact_trains_39062_steps_in_eval_mode_validating_every_1000(mnist, monkeypatch):
    spec = load_spec(REPO / "experiments/cifar10.yaml", protocol="release-exact")
    # CIFAR-10's numbers: the iteration formula counts the training set, not the labeled set
    assert total_iterations(spec.task, 5000, 50000) == 39062
    assert vaal_iterations(spec, 5000, 50000, 45000) == 39062
    spec = _spec("release-exact", task={"iterations": UNSTATED})
    total, steps, validations = _train_observed(
        spec, mnist, monkeypatch, 500, np.arange(59000, 59020), cap=1002
    )
    assert total == 60000 * 100 // 128 == 46875  # MNIST's 60,000 training images
    assert validations == 2  # after steps 1 and 1001
    assert [m for m, _ in steps] == [True] + [False] * 1001  # eval mode after the first validation
    assert {b for _, b in steps} == {128}  # drop_last: 500 = 3 x 128 + 116, the 116 dropped


def test_paper_exact_trains_100000_steps_in_train_mode_without_validation(mnist, monkeypatch):
    spec = _spec("paper-exact", task={"iterations": UNSTATED})  # the preset's own value
    total, steps, validations = _train_observed(spec, mnist, monkeypatch, 500, None, cap=8)
    assert total == 100000 and validations == 0
    assert all(m for m, _ in steps) and {b for _, b in steps} == {128}


def test_release_exact_vaal_iterations_count_the_training_set(mnist, monkeypatch):
    """Through the strategy: 60,000 MNIST training images, a pool of 45,000, 5,000 labeled."""
    lengths: list[int] = []

    class NoBar:  # the iteration loop's progress bar: records its length, runs no iteration
        def __init__(self, it, **kwargs):
            lengths.append(len(it))

        def __iter__(self):
            return iter(())

        def set_postfix(self, *a, **k):
            pass

    monkeypatch.setattr(strategy_mod, "tqdm", NoBar)
    for protocol, want in (("release-exact", 46875), ("paper-exact", 100000)):
        spec = _spec(protocol, task={"iterations": UNSTATED})
        ctx = _ctx(spec, mnist, np.arange(5000), np.arange(45000))
        VAALStrategy(spec).train(ctx)
        assert lengths[-1] == want, protocol


@pytest.mark.parametrize("protocol", EXACT)
def test_exact_presets_force_fp32_over_the_spec_files_bf16(protocol):
    data = yaml.safe_load((REPO / "experiments/cifar10.yaml").read_text())
    assert (data["runtime"]["precision"], data["runtime"]["channels_last"]) == ("bf16", True)
    forced = force_preset_values(data, protocol)
    assert data["runtime"]["precision"] == "bf16"  # the file's mapping is left as it was
    spec = spec_from_dict(forced, protocol)
    assert (spec.runtime.precision, spec.runtime.channels_last) == ("fp32", False)
    assert spec.runtime.num_threads == spec_from_dict(data, protocol).runtime.num_threads
    # a --set override goes on after the forced values, and wins
    apply_override(forced, "runtime.precision=bf16")
    assert spec_from_dict(forced, protocol).runtime.precision == "bf16"
    # the corrected presets force nothing
    assert force_preset_values(data, "release") == data


@pytest.mark.parametrize("protocol", EXACT)
def test_a_run_under_an_exact_preset_records_fp32(protocol, tmp_path, mnist):
    data = {**TINY, "protocol": protocol, "active": {**TINY["active"], "cycles": 1}}
    data["runtime"] = {**TINY["runtime"], "precision": "bf16", "channels_last": True}
    spec = spec_from_dict(force_preset_values(data, protocol))
    records = ActiveLoop(spec, "random", 0, tmp_path, progress=False, data=mnist).run()
    assert [r["precision"] for r in records] == ["fp32"]


@pytest.mark.parametrize("protocol", EXACT)
def test_load_spec_forces_fp32_under_an_exact_preset(protocol):
    for name in ("cifar10", "imagenet", "caltech256"):
        spec = load_spec(REPO / "experiments" / f"{name}.yaml", protocol=protocol)
        assert (spec.runtime.precision, spec.runtime.channels_last) == ("fp32", False), name
    spec = load_spec(
        REPO / "experiments/cifar10.yaml", ["runtime.precision=bf16"], protocol=protocol
    )
    assert spec.runtime.precision == "bf16"  # a --set override still wins
