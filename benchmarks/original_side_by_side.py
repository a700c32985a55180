"""The original VAAL code (67263f3) beside the suite's `release-exact`, on the class-biased MNIST pool.

The original is read from your own clone of github.com/sinhasam/vaal and never copied into this
repository: its model.py, solver.py and sampler.py at 67263f3 are written to a temporary directory,
the VAE's widths scaled from 128-1024 to the suite's 8-64 (`vaal.width: 8`; the discriminator
keeps 512), and imported from there. The suite's run is an ordinary `python -m vaal_core run`
(experiments/ablations/mnist_biased.yaml under `--protocol release-exact`: 300 labeled images of
digits 0-4 in a 6,000-image pool, one query of 300, `task.iterations` VAAL iterations) made in this
process with the game's inputs recorded.

  replay    the original's `Solver.train` and sampler fed exactly the stream the suite's game
            consumed: the same initial weights, the same batches in the same order (mirrored as
            the suite mirrored them), the same reparameterisation noise, the same scoring batches.
            Prints both losses step by step and the picks in common.
  pipeline  the original's whole pipeline: its DataLoaders (SubsetRandomSampler, drop_last on the
            labeled loader), its own initialisation, the task model in the same loop (a small
            linear model: VAAL's picks never read it), its sampler on the unlabeled loader that
            mirrors like its training loader; seeded by torch.manual_seed(seed), on the suite's
            labeled and unlabeled sets of the same images. Prints the share of each query from the
            unseen digits 5-9.

    git clone https://github.com/sinhasam/vaal /tmp/vaal-original
    python benchmarks/original_side_by_side.py replay --original /tmp/vaal-original --seed 0
    python benchmarks/original_side_by_side.py pipeline --original /tmp/vaal-original --seeds 0-3
    python benchmarks/original_side_by_side.py pipeline --original /tmp/vaal-original --no-mirror

Two adaptations of the 2019 code to the PyTorch installed here, neither changing what it computes:
BCELoss between a (B, 1) output and a (B,) target is an error now (a warning then, computed
element by element), so the target takes the output's shape; and its `torch.randn` noise is drawn
on the CPU as it was. Results: docs/protocols.md, ledger row 21.
"""

from __future__ import annotations

import argparse
import builtins
import contextlib
import functools
import importlib.util
import json
import subprocess
import sys
import tempfile
import types
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

COMMIT = "67263f3"
SPEC = REPO / "experiments/ablations/mnist_biased.yaml"
WIDTHS = (("1024", "64"), ("512", "32"), ("256", "16"), ("128", "8"))
BUDGET, BATCH = 300, 128


class OriginalMissing(Exception):
    """The clone of the original code is not where --original says, or lacks 67263f3."""


class _Stop(BaseException):
    """Ends the suite's run once its query is made (the next cycle is not needed)."""


def original_modules(clone: Path, into: Path) -> tuple[types.ModuleType, types.ModuleType]:
    """(model, solver) of 67263f3, from `clone`, with the VAE's widths scaled."""
    probe = ["git", "-C", str(clone), "rev-parse", "--git-dir"]
    if not clone.is_dir() or subprocess.run(probe, capture_output=True).returncode != 0:
        raise OriginalMissing(
            f"{clone} is not a git clone of the original code; get it with "
            f"`git clone https://github.com/sinhasam/vaal {clone}`"
        )
    for name in ("model.py", "solver.py", "sampler.py"):
        show = subprocess.run(
            ["git", "-C", str(clone), "show", f"{COMMIT}:{name}"], capture_output=True, text=True
        )
        if show.returncode != 0:
            raise OriginalMissing(f"{clone} has no {COMMIT}:{name}; fetch its full history")
        text = show.stdout
        if name == "model.py":  # the VAE's widths only; the discriminator keeps its 512
            start, end = text.index("class VAE"), text.index("class Discriminator")
            vae = text[start:end]
            for big, small in WIDTHS:
                vae = vae.replace(big, small)
            text = text[:start] + vae + text[end:]
        (into / name).write_text(text)
    sys.path.insert(0, str(into))
    modules = []
    for name in ("model", "solver"):
        spec = importlib.util.spec_from_file_location(name, into / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        modules.append(module)
    return modules[0], modules[1]


@contextlib.contextmanager
def quiet():
    """The original prints every 100 iterations; keep the table readable."""
    keep = builtins.print
    builtins.print = lambda *a, **k: None
    try:
        yield
    finally:
        builtins.print = keep


def suite_query(seed: int, iterations: int, mirror: bool, out: Path, record: bool) -> dict:
    """Run the suite's release-exact query; return its sets, picks and (`record`) game inputs."""
    from vaal_core.__main__ import main as suite_main
    from vaal_core.vaal import game
    from vaal_core.vaal import strategy as vstrategy

    rec: dict = {"vae": [], "disc": []}
    cls, models = vstrategy.VAALStrategy, game.VAALModels
    saved = {
        (cls, "score_pool"): cls.score_pool,
        (cls, "select"): cls.select,
        (models, "__init__"): models.__init__,
        (models, "vae_step"): models.vae_step,
        (models, "disc_step"): models.disc_step,
        (models, "score"): models.score,
    }

    def init(self, *a, **k):
        saved[(models, "__init__")](self, *a, **k)
        rec.setdefault("init", (copy_state(self.vae), copy_state(self.disc)))

    def vae_step(self, x_l, x_u):
        if record:  # the noise the step is about to draw: labeled first, then unlabeled
            state = torch.get_rng_state()
            eps = (
                torch.randn(len(x_l), self.cfg.latent_dim),
                torch.randn(len(x_u), self.cfg.latent_dim),
            )
            torch.set_rng_state(state)
        loss = saved[(models, "vae_step")](self, x_l, x_u)
        if record:
            rec["vae"].append((x_l.clone(), x_u.clone(), *eps, float(loss)))
        return loss

    def disc_step(self, x_l, x_u, encoder_only=True):
        loss = saved[(models, "disc_step")](self, x_l, x_u, encoder_only)
        if record:
            rec["disc"].append((x_l.clone(), x_u.clone(), float(loss)))
        return loss

    def score(self, batches, total, encoder_only=True, train_mode=False):
        if "score_in" in rec or not record:
            return saved[(models, "score")](self, batches, total, encoder_only, train_mode)
        rec["score_in"] = [b.clone() for b in batches]
        rec["score_out"] = saved[(models, "score")](
            self, iter(rec["score_in"]), total, encoder_only, train_mode
        )
        return rec["score_out"]

    def score_pool(self, ctx, idx, batch_size=None):
        if "unlabeled" not in rec:  # the pool's scoring comes first; its shuffle, replayed
            g = torch.Generator()
            g.set_state(ctx.generator.get_state())
            rec["unlabeled"] = np.asarray(idx).copy()
            rec["order"] = torch.randperm(len(idx), generator=g).numpy()
            out = saved[(cls, "score_pool")](self, ctx, idx, batch_size)
            rec["scores"] = out.detach().cpu().numpy()
            return out
        return saved[(cls, "score_pool")](self, ctx, idx, batch_size)

    def select(self, ctx, budget):
        rec["picked"] = saved[(cls, "select")](self, ctx, budget)
        rec["labeled"] = np.asarray(ctx.pool.labeled).copy()
        raise _Stop

    patches = {
        (cls, "score_pool"): score_pool,
        (cls, "select"): select,
        (models, "__init__"): init,
        (models, "vae_step"): vae_step,
        (models, "disc_step"): disc_step,
        (models, "score"): score,
    }
    sets = [
        "dataset.pool_size=6000",
        f"active.initial={BUDGET}",
        f"active.budget={BUDGET}",
        "active.cycles=2",
        f"task.iterations={iterations}",
        "runtime.num_threads=1",
        f"experiment=side_by_side_{'mirror' if mirror else 'plain'}_{iterations}",
    ]
    if not mirror:  # neither the training batches nor the scored images mirrored
        quirks = "eval_mode_training,train_mode_scoring,drop_last,no_vaal_holdout"
        sets += ["task.augment=false", f"protocol.quirks=[{quirks}]"]
    argv = ["run", str(SPEC), "--strategy", "vaal", "--seed", str(seed), "--out", str(out)]
    argv += ["--protocol", "release-exact", "--no-progress"]
    for s in sets:
        argv += ["--set", s]
    for (owner, name), fn in patches.items():
        setattr(owner, name, fn)
    try:
        with quiet():
            suite_main(argv)
        raise SystemExit("error: the suite's run ended without a query")
    except _Stop:
        return rec
    finally:
        for (owner, name), fn in saved.items():
            setattr(owner, name, fn)


def copy_state(module: torch.nn.Module) -> dict:
    return {k: v.clone() for k, v in module.state_dict().items()}


def load_in_order(module: torch.nn.Module, state: dict) -> None:
    """The suite's weights into the original's module: the same layers in the same order."""
    mine = module.state_dict()
    assert len(mine) == len(state), "the two models differ in their number of tensors"
    new = {}
    for (name, ours), theirs in zip(mine.items(), state.values(), strict=True):
        assert ours.shape == theirs.shape, f"{name}: {ours.shape} vs {theirs.shape}"
        new[name] = theirs.clone()
    module.load_state_dict(new)


def original_solver(solver_mod, iterations: int, batch: int):
    args = types.SimpleNamespace(
        budget=BUDGET,
        num_images=iterations * batch,  # train_iterations = num_images x epochs // batch_size
        train_epochs=1,
        batch_size=batch,
        num_vae_steps=2,
        num_adv_steps=1,
        beta=1.0,
        adversary_param=1.0,
        cuda=False,
    )
    zeros = torch.zeros(4, 1, 32, 32)
    solver = solver_mod.Solver(args, [(zeros, torch.zeros(4, dtype=torch.long))])
    bce = solver.bce_loss
    solver.bce_loss = lambda p, t: bce(p.reshape(t.shape), t)  # 2019: element by element
    return solver


def constant_task_model() -> torch.nn.Module:
    """Predicts digit 0 at first, so the original's validation at step 0 keeps a best model."""
    task = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(32 * 32, 10))
    with torch.no_grad():
        task[1].weight.zero_()
        task[1].bias.zero_()
        task[1].bias[0] = 10.0
    return task


VAL = [(torch.zeros(4, 1, 32, 32), torch.zeros(4, dtype=torch.long), None)]


def replay(args, model_mod, solver_mod, out: Path) -> dict:
    rec = suite_query(args.seed, args.iterations, not args.no_mirror, out, record=True)
    vae_state, disc_state = rec["init"]
    latent = disc_state["net.0.weight"].shape[1]
    vae, disc = model_mod.VAE(z_dim=latent, nc=1), model_mod.Discriminator(z_dim=latent)
    load_in_order(vae, vae_state)
    load_in_order(disc, disc_state)
    noise = [e for step in rec["vae"] for e in step[2:4]][::-1]

    def randn(*size):  # the suite's noise for the VAE steps; the no-grad passes ignore z
        if torch.is_grad_enabled():
            e = noise.pop()
            assert tuple(e.shape) == tuple(size)
            return e
        return torch.zeros(*size)

    model_mod.torch = types.SimpleNamespace(**{**vars(torch), "randn": randn})
    labeled = [(s[0], torch.zeros(len(s[0]), dtype=torch.long), None) for s in rec["vae"]]
    unlabeled = [(s[1], None, None) for s in rec["vae"]]
    solver = original_solver(solver_mod, args.iterations, 1)
    losses: list[tuple[str, float]] = []
    vae_loss, bce = solver.vae_loss, solver.bce_loss
    solver.vae_loss = lambda *a: _noted(losses, "vae", vae_loss(*a))
    solver.bce_loss = lambda p, t: _noted(losses, "bce", bce(p, t))
    with quiet():
        solver.train(labeled, VAL, constant_task_model(), vae, disc, unlabeled)
        chunks, n = [], 0
        for c in rec["score_in"]:
            chunks.append((c, None, list(range(n, n + len(c)))))
            n += len(c)
        picks = np.asarray(solver.sample_for_labeling(vae, disc, chunks))
        with torch.no_grad():  # the sampler's own pass, kept as scores
            theirs = torch.cat([disc(vae(c)[2]).view(-1) for c, _, _ in chunks])
    assert not noise, "the original drew fewer noise tensors than the suite"
    vae_orig, disc_orig, i = [], [], 0
    while i < len(losses):  # a VAE step logs 2 VAE losses + 2 BCEs; a disc step 2 BCEs
        k = 4 if losses[i][0] == "vae" else 2
        (vae_orig if k == 4 else disc_orig).append(sum(v for _, v in losses[i : i + k]))
        i += k
    vae_suite = [s[-1] for s in rec["vae"]]
    disc_suite = [s[-1] for s in rec["disc"]]
    ours = rec["score_out"].detach()
    our_picks = torch.argsort(ours, stable=True)[:BUDGET].numpy()
    position_to_index = rec["unlabeled"][rec["order"]]
    labels = _labels()
    return {
        "seed": args.seed,
        "iterations": args.iterations,
        "mirror": not args.no_mirror,
        "steps (VAE, disc)": [len(vae_suite), len(disc_suite), len(vae_orig), len(disc_orig)],
        "first VAE losses (suite | original)": [vae_suite[:3], vae_orig[:3]],
        "first disc losses (suite | original)": [disc_suite[:3], disc_orig[:3]],
        "VAE loss |diff| at 1, 10, 100, last": _at(vae_suite, vae_orig),
        "disc loss |diff| at 1, 10, 100, last": _at(disc_suite, disc_orig),
        "scores max |diff|": float((theirs - ours).abs().max()),
        "scores correlation": float(np.corrcoef(theirs.numpy(), ours.numpy())[0, 1]),
        "picks in common": int(len(np.intersect1d(our_picks, picks))),
        "unseen share (suite | original)": [
            _share(labels, position_to_index[our_picks]),
            _share(labels, position_to_index[picks]),
        ],
    }


def _noted(losses, kind, value):
    losses.append((kind, float(value.detach())))
    return value


def _at(a: list[float], b: list[float]) -> list[float]:
    n = min(len(a), len(b))
    return [float(f"{abs(a[i] - b[i]):.2e}") for i in sorted({0, 9, 99, n - 1}) if i < n]


@functools.cache
def _mnist():
    """MNIST at 32 x 32 as the suite loads it, read once for every seed."""
    from vaal_core.datasets import load_dataset

    return load_dataset("mnist", None, image_size=32)


def _labels() -> np.ndarray:
    return _mnist().train_y.numpy()


def _share(labels: np.ndarray, idx: np.ndarray) -> float:
    return round(float(np.mean(labels[np.asarray(idx)] >= 5)), 4)


def pipeline(args, model_mod, solver_mod, out: Path, seed: int) -> dict:
    from torch.utils import data

    mirror = not args.no_mirror
    rec = suite_query(seed, args.iterations, mirror, out, record=False)
    mnist = _mnist()
    images, labels = mnist.train_x, mnist.train_y.numpy()

    class Images(data.Dataset):
        """(image in [-1, 1] as 67263f3's Normalize(0.5, 0.5), label, index), mirrored with
        probability 1/2 as its training transform (used by its unlabeled loader too)."""

        def __len__(self):
            return len(labels)

        def __getitem__(self, i):
            x = images[i].float() / 255 * 2 - 1
            if mirror and torch.rand(1).item() < 0.5:
                x = x.flip(-1)
            return x, int(labels[i]), i

    torch.manual_seed(seed)
    ds = Images()
    labeled = data.DataLoader(
        ds,
        sampler=data.SubsetRandomSampler(rec["labeled"].tolist()),
        batch_size=BATCH,
        drop_last=True,
    )
    unlabeled = data.DataLoader(
        ds, sampler=data.SubsetRandomSampler(rec["unlabeled"].tolist()), batch_size=BATCH
    )
    solver = original_solver(solver_mod, args.iterations, BATCH)
    vae, disc = model_mod.VAE(z_dim=32, nc=1), model_mod.Discriminator(z_dim=32)
    with quiet():
        _, vae, disc = solver.train(labeled, VAL, constant_task_model(), vae, disc, unlabeled)
        picks = solver.sample_for_labeling(vae, disc, unlabeled)
    scores = rec["scores"]
    return {
        "seed": seed,
        "iterations": args.iterations,
        "mirror": mirror,
        "unseen share suite": _share(labels, rec["picked"]),
        "unseen share original": _share(labels, picks),
        "unseen share of the unlabeled pool": _share(labels, rec["unlabeled"]),
        "suite: tied scores": int(len(scores) - len(np.unique(scores))),
        "suite: tie at the budget's edge": bool((scores == np.sort(scores)[BUDGET - 1]).sum() > 1),
    }


def main(argv: list[str] | None = None) -> int:
    from vaal_core.cli import seed_list

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("mode", choices=("replay", "pipeline"))
    ap.add_argument("--original", type=Path, required=True, help="a clone of sinhasam/vaal")
    ap.add_argument("--seed", type=int, default=0, help="replay: the seed")
    ap.add_argument("--seeds", type=seed_list, default=[0], help="pipeline: e.g. 0-3")
    ap.add_argument("--iterations", type=int, default=700, help="VAAL iterations (default 700)")
    ap.add_argument("--no-mirror", action="store_true", help="nothing mirrored, either side")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            model_mod, solver_mod = original_modules(args.original.resolve(), Path(tmp))
        except OriginalMissing as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        if args.mode == "replay":
            print(json.dumps(replay(args, model_mod, solver_mod, Path(tmp) / "runs"), indent=1))
            return 0
        for seed in args.seeds:
            result = pipeline(args, model_mod, solver_mod, Path(tmp) / f"runs-{seed}", seed)
            print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
