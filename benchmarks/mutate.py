"""Mutation check of the quirks and the `-exact` presets: does every one-line mistake fail a test?

Each mutant is one edit (file, an exact fragment found once, its replacement) to an effect site of
vaal_core/spec/quirks.py's switches or to a value a preset sets. The repository is copied once to a
temporary directory (the working tree is never edited); each mutant is applied to the copy, the
tests that guard it run there (`pytest -x`, the copy first on PYTHONPATH), and the file is put
back. A mutant is killed when a test fails, survives when they all pass.

    python benchmarks/mutate.py                  # every mutant; exit 1 if any survives
    python benchmarks/mutate.py --only flip,VAE   # mutants whose name contains 'flip' or 'VAE'
    python benchmarks/mutate.py --list           # names and edits, nothing run

`make mutate` runs it; it is slow (one pytest run per mutant), so `make test` does not.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TESTS = (
    "tests/test_quirk_effects.py",
    "tests/test_exact.py",
    "tests/test_protocols.py",
    "tests/test_original_step.py",
)
# copied trees leave out what the tests do not import (the data are read in place, DATA_ROOT)
SKIP = {
    ".git",
    ".venv",
    "data",
    "results",
    "figures",
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
}

STRATEGY = "vaal_core/vaal/strategy.py"
GAME = "vaal_core/vaal/game.py"
MODELS = "vaal_core/vaal/models.py"
TRAINER = "vaal_core/train/trainer.py"
SCHEDULES = "vaal_core/train/schedules.py"
PROTOCOLS = "vaal_core/spec/protocols.py"
QUIRKS = "vaal_core/spec/quirks.py"


@dataclass(frozen=True)
class Mutant:
    name: str
    path: str
    old: str  # found exactly once in the file
    new: str


_RELEASE_GAME = (
    '"disc_layers": 2,\n            "num_vae_steps": 2,\n            "num_adv_steps": 1,\n'
    '            "match_task_iterations": True,'
)
_PAPER_EXACT_QUIRKS = (
    '"quirks": ["train_mode_scoring", "flip_when_scoring", "drop_last", "no_vaal_holdout"],'
)


def _release_exact_without(quirk: str) -> Mutant:
    return Mutant(
        f"release-exact without {quirk}",
        PROTOCOLS,
        f'                "{quirk}",\n                ',
        "                ",
    )


def _paper_exact_without(quirk: str) -> Mutant:
    kept = [q for q in ("train_mode_scoring", "flip_when_scoring", "drop_last", "no_vaal_holdout")]
    kept.remove(quirk)
    return Mutant(
        f"paper-exact without {quirk}",
        PROTOCOLS,
        _PAPER_EXACT_QUIRKS,
        '"quirks": [' + ", ".join(f'"{q}"' for q in kept) + "],",
    )


# one mutant per line (name, file, the line as it is, the line broken), so the table reads across
# and a diff of it shows one mutant: the formatter would fold each entry over several lines
MUTANTS: list[Mutant] = [
    # ---- train_mode_scoring: the shuffle, its undoing, the batch size, the mode
    Mutant(
        "unshuffle with the wrong permutation",
        STRATEGY,
        "scores = scores[device_index(torch.argsort(order), scores.device)]",
        "scores = scores[device_index(order, scores.device)]",
    ),
    Mutant(
        "no unshuffle",
        STRATEGY,
        "scores = scores[device_index(torch.argsort(order), scores.device)]",
        "scores = scores",
    ),
    Mutant(
        "train-mode scoring in index order",
        STRATEGY,
        "order = torch.randperm(len(t), generator=ctx.generator)",
        "order = torch.arange(len(t))",
    ),
    Mutant(
        "train-mode scoring at the evaluation batch size",
        STRATEGY,
        "batch_size = self.options.batch_size\n",
        "pass\n",
    ),
    Mutant(
        "train-mode scoring never switched on",
        STRATEGY,
        "train_mode = quirks.train_mode_scoring",
        "train_mode = False",
    ),
    Mutant(
        "scoring mode not passed to the game",
        STRATEGY,
        "scores = self.models.score(chunks, len(t), train_mode=train_mode)",
        "scores = self.models.score(chunks, len(t))",
    ),
    Mutant(
        "game scores in eval mode whatever it is told",
        GAME,
        "self.vae.train(train_mode)",
        "self.vae.train(False)",
    ),
    # ---- flip_when_scoring
    Mutant(
        "flip a no-op",
        STRATEGY,
        "coin = torch.rand(len(x), generator=ctx.generator) < 0.5",
        "coin = torch.rand(len(x), generator=ctx.generator) < 0.0",
    ),
    Mutant(
        "flip every image",
        STRATEGY,
        "coin = torch.rand(len(x), generator=ctx.generator) < 0.5",
        "coin = torch.rand(len(x), generator=ctx.generator) < 1.0",
    ),
    Mutant(
        "flip a quarter of the images",
        STRATEGY,
        "coin = torch.rand(len(x), generator=ctx.generator) < 0.5",
        "coin = torch.rand(len(x), generator=ctx.generator) < 0.25",
    ),
    Mutant(
        "flip vertically",
        STRATEGY,
        "x.flip(-1), x)",
        "x.flip(-2), x)",
    ),
    Mutant(
        "flip never switched on",
        STRATEGY,
        "flip = quirks.flip_when_scoring",
        "flip = False",
    ),
    Mutant(
        "flip always on",
        STRATEGY,
        "flip = quirks.flip_when_scoring",
        "flip = True",
    ),
    # ---- drop_last: VAAL's labeled stream and the task model's passes
    Mutant(
        "VAAL's labeled stream without drop_last",
        STRATEGY,
        "lab = endless_batches(labeled, cfg.batch_size, ctx.generator, ctx.device, drop_last)",
        "lab = endless_batches(labeled, cfg.batch_size, ctx.generator, ctx.device)",
    ),
    Mutant(
        "VAAL's unlabeled stream with drop_last",
        STRATEGY,
        "unl = endless_batches(unlabeled, cfg.batch_size, ctx.generator, ctx.device)",
        "unl = endless_batches(unlabeled, cfg.batch_size, ctx.generator, ctx.device, True)",
    ),
    Mutant(
        "endless batches ignore drop_last",
        GAME,
        "for start in batch_starts(len(order), batch, drop_last):",
        "for start in batch_starts(len(order), batch, False):",
    ),
    Mutant(
        "VAAL reads drop_last from another quirk",
        STRATEGY,
        "drop_last = self.spec.quirks.drop_last",
        "drop_last = self.spec.quirks.no_vaal_holdout",
    ),
    Mutant(
        "trainer ignores drop_last",
        TRAINER,
        "for start in batch_starts(len(order), task.batch_size, quirks.drop_last):",
        "for start in batch_starts(len(order), task.batch_size, False):",
    ),
    # ---- eval_mode_training, validation
    Mutant(
        "trainer ignores eval_mode_training",
        TRAINER,
        "train_mode = not quirks.eval_mode_training",
        "train_mode = True",
    ),
    Mutant(
        "trainer never hands the quirks on",
        TRAINER,
        "model, batches, labeled, spec.task, spec.runtime, generator, val, progress, spec.quirks",
        "model, batches, labeled, spec.task, spec.runtime, generator, val, progress",
    ),
    Mutant(
        "validation at step % val_every instead of from step 1",
        TRAINER,
        "if task.val_every and (step - 1) % task.val_every == 0:",
        "if task.val_every and step % task.val_every == 0:",
    ),
    # ---- no_vaal_holdout
    Mutant(
        "hold-out kept under no_vaal_holdout",
        STRATEGY,
        "n = 0 if self.spec.quirks.no_vaal_holdout else self.options.diag_holdout",
        "n = self.options.diag_holdout",
    ),
    # ---- the iteration formula
    Mutant(
        "VAAL's iteration count from the pool instead of the training set",
        STRATEGY,
        'len(ctx.pool.labeled), ctx.batches.split_size("train"), len(ctx.pool)',
        "len(ctx.pool.labeled), len(ctx.pool), len(ctx.pool)",
    ),
    Mutant(
        "vaal_iterations counts the labeled set",
        GAME,
        "return total_iterations(spec.task, n_labeled, n_train)",
        "return total_iterations(spec.task, n_labeled, n_labeled)",
    ),
    Mutant(
        "the trainer's count from the labeled set",
        TRAINER,
        'opt, sched, total = build_optimization(params, task, len(labeled), batches.split_size("train"))',
        "opt, sched, total = build_optimization(params, task, len(labeled), len(labeled))",
    ),
    Mutant(
        "train_set formula rounds up",
        SCHEDULES,
        "return max(1, n_train * task.epochs // task.batch_size)",
        "return max(1, -(-n_train * task.epochs // task.batch_size))",
    ),
    # ---- preset values
    Mutant("release-exact with one VAE step", PROTOCOLS, _RELEASE_GAME, _RELEASE_GAME.replace('"num_vae_steps": 2', '"num_vae_steps": 1')),
    Mutant("release-exact with a 4-layer discriminator", PROTOCOLS, _RELEASE_GAME, _RELEASE_GAME.replace('"disc_layers": 2', '"disc_layers": 4')),
    Mutant("release trains VAAL its own epochs", PROTOCOLS, _RELEASE_GAME, _RELEASE_GAME.replace('"match_task_iterations": True', '"match_task_iterations": False')),
    Mutant("paper with two VAE steps", PROTOCOLS, '"num_vae_steps": 1,', '"num_vae_steps": 2,'),
    Mutant("paper with a 2-layer discriminator", PROTOCOLS, '"disc_layers": 4,', '"disc_layers": 2,'),
    Mutant("paper with 10,000 iterations", PROTOCOLS, '"iterations": 100000,', '"iterations": 10000,'),
    Mutant("release epochs of the labeled set", PROTOCOLS, '"epoch_basis": "train_set",', '"epoch_basis": "labeled",'),
    Mutant("release with 50 epochs", PROTOCOLS, '"epochs": 100,', '"epochs": 50,'),
    Mutant("release-exact validates every 500", PROTOCOLS, '"task": {"val_every": 1000},', '"task": {"val_every": 500},'),
    Mutant("release-exact without its validation cadence", PROTOCOLS, '"task": {"val_every": 1000},', '"task": {},'),
    Mutant("paper-exact feeds [-1, 1]", PROTOCOLS, '"input_range": "unit",', '"input_range": "symmetric",'),
    Mutant("release-exact feeds [0, 1]", PROTOCOLS, '"vaal": {"input_range": "symmetric", "init": "original"},', '"vaal": {"input_range": "unit", "init": "original"},'),
    Mutant("release-exact with the suite's init", PROTOCOLS, '"vaal": {"input_range": "symmetric", "init": "original"},', '"vaal": {"input_range": "symmetric"},'),
    Mutant("paper-exact with the suite's init", PROTOCOLS, '"init": "original",\n            "lr_step_fraction"', '"init": "suite",\n            "lr_step_fraction"'),
    Mutant("paper-exact VAAL lr decay every 1/2", PROTOCOLS, '"lr_step_fraction": 0.04,\n            "lr_gamma": 0.9,\n        },', '"lr_step_fraction": 0.5,\n            "lr_gamma": 0.9,\n        },'),
    Mutant("paper-exact VAAL lr decay x0.8", PROTOCOLS, '"lr_step_fraction": 0.04,\n            "lr_gamma": 0.9,\n        },', '"lr_step_fraction": 0.04,\n            "lr_gamma": 0.8,\n        },'),
    Mutant("paper-exact starts from the 10% set", PROTOCOLS, '"initial_size": "budget",', '"initial_size": "spec",'),
    Mutant("release-exact built on paper", PROTOCOLS, 'PRESETS["release-exact"] = _with_base("release",', 'PRESETS["release-exact"] = _with_base("paper",'),
    Mutant("exact presets in bf16", PROTOCOLS, '"precision": "fp32"', '"precision": "bf16"'),
    *(_paper_exact_without(q) for q in ("train_mode_scoring", "flip_when_scoring", "drop_last", "no_vaal_holdout")),
    *(_release_exact_without(q) for q in ("eval_mode_training", "train_mode_scoring", "flip_when_scoring", "drop_last")),
    Mutant("release-exact without no_vaal_holdout", PROTOCOLS, '"drop_last",\n                "no_vaal_holdout",\n', '"drop_last",\n'),
    # ---- the original's init (vaal.init: original)
    Mutant("original VAE init misses fc_dec", MODELS, "for m in [*vae.encoder, vae.fc_dec]:", "for m in [*vae.encoder]:"),
    Mutant("original VAE init reaches fc_mu", MODELS, "for m in [*vae.encoder, vae.fc_dec]:", "for m in [*vae.encoder, vae.fc_dec, vae.fc_mu]:"),
    Mutant("discriminator ignores the original init", MODELS, '        if init == "original":\n            for m in self.net:', '        if init == "never":\n            for m in self.net:'),
    # ---- the game's arithmetic and batch order, as 67263f3's solver.py (tests/test_original_step.py)
    Mutant("VAE step calls the unlabeled pool unlabeled", GAME, "_bce_to(d_l, LABELED) + _bce_to(d_u, LABELED)", "_bce_to(d_l, LABELED) + _bce_to(d_u, UNLABELED)"),
    Mutant("KL summed over latent units only", GAME, 'kl = kl.sum() if kl_reduction == "sum" else kl.mean()', 'kl = kl.sum() / len(kl) if kl_reduction == "sum" else kl.mean()'),
    Mutant("reconstruction summed per image", GAME, "return F.mse_loss(recon.float(), x.float()), beta * kl", 'return F.mse_loss(recon.float(), x.float(), reduction="sum") / len(x), beta * kl'),
    Mutant("discriminator step on joint BN statistics", GAME, "mu_l, mu_u = self.mu(x_l, encoder_only), self.mu(x_u, encoder_only)", "mu_l, mu_u = self.mu(torch.cat([x_l, x_u]), encoder_only).split([len(x_l), len(x_u)])"),
    Mutant("discriminator step on a fresh pair", STRATEGY, "                    if step < cfg.num_vae_steps - 1:", "                    if True:"),
    # ---- the quirks' typed value
    Mutant("Quirks.of drops the names", QUIRKS, "return cls(**{name: True for name in names})", "return cls()"),
    Mutant("drop_last keeps the partial batch", QUIRKS, "usable = n - n % batch if drop_last else 0", "usable = 0"),
    Mutant("trainer quirk set misses drop_last", QUIRKS, 'TRAINER_QUIRKS = frozenset({"eval_mode_training", "drop_last"})', 'TRAINER_QUIRKS = frozenset({"eval_mode_training"})'),
]  # fmt: skip


def copy_tree(dst: Path) -> None:
    shutil.copytree(REPO, dst, ignore=lambda d, names: [n for n in names if n in SKIP])


def apply(root: Path, m: Mutant) -> str:
    """Edit the copy; returns the file's original text (to put back)."""
    path = root / m.path
    text = path.read_text()
    count = text.count(m.old)
    if count != 1:
        raise LookupError(f"{m.path}: the fragment occurs {count} times: {m.old!r}")
    path.write_text(text.replace(m.old, m.new))
    return text


def run_tests(root: Path, tests: tuple[str, ...], workers: int) -> tuple[bool, str]:
    """(any test failed, the first failing test or the error)."""
    env = os.environ | {
        "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]).rstrip(":"),
        "DATA_ROOT": os.environ.get("DATA_ROOT") or str(REPO / "data"),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-n", str(workers)]
    r = subprocess.run(
        [*cmd, *tests], cwd=root, env=env, capture_output=True, text=True, timeout=1800
    )
    if r.returncode == 0:
        return False, ""
    failed = re.findall(r"^(?:FAILED|ERROR) (\S+)", r.stdout, re.M)
    return True, failed[0] if failed else (r.stdout.strip().splitlines() or ["?"])[-1]


def check_copy_imported(root: Path) -> None:
    env = os.environ | {"PYTHONPATH": str(root)}
    out = subprocess.run(
        [sys.executable, "-c", "import vaal_core; print(vaal_core.__file__)"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if not out.startswith(str(root)):
        raise SystemExit(f"error: the copy's vaal_core is not the one imported ({out})")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--only", help="run only mutants whose name contains one of these texts (comma-separated)"
    )
    ap.add_argument("--list", action="store_true", help="list the mutants and exit")
    ap.add_argument("--workers", type=int, default=2, help="pytest-xdist workers (default 2)")
    ap.add_argument("--tests", nargs="+", default=list(TESTS), help="test files to run")
    args = ap.parse_args(argv)
    only = args.only.split(",") if args.only else []
    mutants = [m for m in MUTANTS if not only or any(o in m.name for o in only)]
    if args.list:
        for m in mutants:
            print(f"{m.name}\n  {m.path}: {m.old!r}\n  -> {m.new!r}")
        return 0
    rows: list[tuple[str, str, str]] = []
    # a SIGTERM unwinds like Ctrl-C: the running pytest is killed and the copy removed
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with tempfile.TemporaryDirectory(prefix="vaal-mutate-") as tmp:
        root = Path(tmp) / "repo"
        copy_tree(root)
        check_copy_imported(root)
        failed, first = run_tests(root, tuple(args.tests), args.workers)
        if failed:  # the unmutated copy must pass, or every mutant would look killed
            print(f"error: the tests fail on the unmutated tree ({first})", file=sys.stderr)
            return 2
        for i, m in enumerate(mutants, 1):
            t0 = time.perf_counter()
            try:
                original = apply(root, m)
            except LookupError as e:
                rows.append((m.name, "NOT APPLIED", str(e)))
                print(f"[{i}/{len(mutants)}] {m.name}: not applied ({e})", flush=True)
                continue
            try:
                killed, by = run_tests(root, tuple(args.tests), args.workers)
            finally:
                (root / m.path).write_text(original)
            verdict = "killed" if killed else "SURVIVED"
            rows.append((m.name, verdict, by))
            dt = time.perf_counter() - t0
            print(f"[{i}/{len(mutants)}] {m.name}: {verdict} {by} ({dt:.0f} s)", flush=True)
    width = max(len(r[0]) for r in rows)
    print(f"\n{'mutant':<{width}}  {'verdict':<11}  by")
    for name, verdict, by in rows:
        print(f"{name:<{width}}  {verdict:<11}  {by}")
    killed = sum(v == "killed" for _, v, _ in rows)
    print(f"\n{killed}/{len(rows)} mutants killed")
    return 0 if killed == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
