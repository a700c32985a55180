"""Ledger rows 14, 15 and 18: what the originals did to the task model's inputs and evaluation that
the suite does not reproduce, measured at demo scale.

- Row 14 (395da2e `test()`, fixed in 547b46b and 0f91d8f): the test set scored with the task model
  in train mode (BatchNorm on the statistics of each test batch of 128, dropout on) and every test
  image mirrored with probability 1/2 (the test loader used the training transform). Measured: the
  test accuracy 395da2e would have reported minus the corrected one, for the same model, in train
  mode alone and with the mirroring. MNIST's digits are not mirror-symmetric where CIFAR's
  classes are, so the mirrored figure overstates what the flips cost on CIFAR-10.
- Row 15 (67263f3 main.py: the validation loader reads `train_dataset`, so validation images are
  mirrored with probability 1/2, drawn afresh at every validation): which checkpoint is kept.
  Measured: the test accuracy of the checkpoint kept under mirrored validation minus the one kept
  under plain validation, same seed, same labeled set and batch order (the mirroring draws from
  a generator of its own, so training is identical up to the choice).
- Row 18 (both commits): the task model sees the VAE's inputs, [-1, 1] in 67263f3 (Normalize(0.5,
  0.5)), where the suite standardises with the dataset's mean and std. Measured: the test accuracy
  of the model trained on [-1, 1] inputs minus the standardised one, same seed, labeled set and
  batch order (the initialisation and the draws are the same; only the input scale differs).

The task model and recipe are the demo's (experiments/mnist.yaml) with a 500-image validation
split and the release's validation cadence scaled to the demo (1,000 of 39,062 steps: every 8 of
300); labeled sets of 200, 400 and 600 images drawn at random from the demo's pool, seeds 0-2.

    python benchmarks/bench_eval_quirks.py             # 3 seeds x 3 sizes (a few minutes)
    python benchmarks/bench_eval_quirks.py --quick     # tiny setting (seconds)
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import dataclasses
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SETTING = ["dataset.val_size=500", "task.val_every=8", "runtime.num_threads=1"]
QUICK = ["dataset.pool_size=600", "dataset.test_size=500", "dataset.val_size=100"]
QUICK += ["task.iterations=24", "active.initial=40", "active.budget=40"]
TEST_BATCH_395DA2E = 128  # its test loader's batch size (args.batch_size)


def _mirrored(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Each image mirrored left-right with probability 1/2 (torchvision's RandomHorizontalFlip)."""
    coin = torch.rand(len(x), generator=generator) < 0.5
    return torch.where(coin.view(-1, 1, 1, 1), x.flip(-1), x)


@torch.no_grad()
def accuracy(model, batches, idx, split, batch, train_mode=False, mirror=None) -> float:
    """Accuracy on images `idx` of `split`; `train_mode` and `mirror` (a generator) as 395da2e."""
    was = model.training
    model.train(train_mode)
    correct = 0
    labels = batches.data.train_y if split == "train" else batches.data.test_y
    for s in range(0, len(idx), batch):
        chunk = torch.as_tensor(idx[s : s + batch])
        x = batches.images(chunk, split)
        if mirror is not None:
            x = _mirrored(x, mirror)
        pred = model(x).argmax(1).cpu()
        correct += int((pred == labels[chunk].long()).sum())
    model.train(was)
    return correct / len(idx)


@contextlib.contextmanager
def mirrored_validation(seed: int):
    """The trainer's validation reads mirrored images (67263f3); its training is untouched."""
    from vaal_core.train import trainer

    plain, gen = trainer.evaluate, torch.Generator().manual_seed(10_000 + seed)

    def evaluate(model, batches, task, runtime, idx=None, split="test"):
        if split != "train":  # only the validation split (drawn from the training images)
            return plain(model, batches, task, runtime, idx, split)
        return accuracy(model, batches, idx, split, task.eval_batch_size, mirror=gen)

    trainer.evaluate = evaluate
    try:
        yield
    finally:
        trainer.evaluate = plain


def _symmetric(data):
    """The same images normalised as 67263f3 did, (x - 0.5) / 0.5: [-1, 1]."""
    channels = len(data.mean)
    return dataclasses.replace(data, mean=(0.5,) * channels, std=(0.5,) * channels)


def measure(sets: list[str], seeds: list[int], sizes: list[int]) -> list[dict]:
    from vaal_core.run.loop import ActiveLoop
    from vaal_core.spec import load_spec
    from vaal_core.train.batches import batches_from_spec

    spec = load_spec("experiments/mnist.yaml", sets)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in seeds:
            loop = ActiveLoop(spec, "random", seed, Path(tmp), progress=False)
            data, candidates, val = loop._data_and_splits()
            batches = batches_from_spec(spec, data, loop.device)
            test_idx = np.arange(batches.split_size("test"))
            for n in sizes:
                labeled = np.sort(np.random.default_rng([seed, n]).choice(candidates, n, False))
                model, _ = loop._train(0, batches, labeled, val, None)
                corrected = accuracy(model, batches, test_idx, "test", spec.task.eval_batch_size)
                gen = torch.Generator().manual_seed(seed)
                # on copies: train-mode BatchNorm updates the running statistics it passes
                train_mode = accuracy(
                    copy.deepcopy(model), batches, test_idx, "test", TEST_BATCH_395DA2E, True
                )
                as_395 = accuracy(
                    copy.deepcopy(model), batches, test_idx, "test", TEST_BATCH_395DA2E, True, gen
                )
                with mirrored_validation(seed):
                    flipped_model, _ = loop._train(0, batches, labeled, val, None)
                kept = accuracy(flipped_model, batches, test_idx, "test", spec.task.eval_batch_size)
                symmetric = batches_from_spec(spec, _symmetric(data), loop.device)
                sym_model, _ = loop._train(0, symmetric, labeled, val, None)
                sym = accuracy(sym_model, symmetric, test_idx, "test", spec.task.eval_batch_size)
                same = all(
                    torch.equal(a, b)
                    for a, b in zip(
                        model.state_dict().values(),
                        flipped_model.state_dict().values(),
                        strict=True,
                    )
                )
                rows.append(
                    {
                        "seed": seed,
                        "n": n,
                        "test": 100 * corrected,
                        "row14_train_mode": 100 * (train_mode - corrected),
                        "row14": 100 * (as_395 - corrected),
                        "row15": 100 * (kept - corrected),
                        "row18": 100 * (sym - corrected),
                        "same_checkpoint": same,
                    }
                )
                print(
                    f"seed {seed} n {n}: test {100 * corrected:.2f}  row 14 "
                    f"{rows[-1]['row14']:+.2f}  row 15 {rows[-1]['row15']:+.2f}  row 18 "
                    f"{rows[-1]['row18']:+.2f}"
                    f"{'  (same checkpoint)' if same else ''}",
                    flush=True,
                )
    return rows


def summary(rows: list[dict]) -> str:
    def cell(key: str) -> str:
        v = np.array([r[key] for r in rows])
        return f"{v.mean():+.2f} ± {v.std(ddof=1) if len(v) > 1 else 0.0:.2f} (min {v.min():+.2f}, max {v.max():+.2f})"

    same = sum(r["same_checkpoint"] for r in rows)
    lines = [
        "| row | what | test accuracy difference, points: mean ± sd over runs |",
        "|---|---|---|",
        f"| 14 | 395da2e's test: train mode, batches of 128 | {cell('row14_train_mode')} |",
        f"| 14 | 395da2e's test: train mode, batches of 128, mirrored | {cell('row14')} |",
        f"| 15 | 67263f3's validation mirrored: kept checkpoint | {cell('row15')}; same "
        f"checkpoint kept in {same} of {len(rows)} |",
        f"| 18 | task model fed [-1, 1] (67263f3) instead of standardised | {cell('row18')} |",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="tiny setting: 1 seed, sizes 40 and 80")
    args = ap.parse_args(argv)
    sets = SETTING + (QUICK if args.quick else [])
    seeds = [0] if args.quick else list(range(args.seeds))
    sizes = [40, 80] if args.quick else [200, 400, 600]
    from vaal_core.train.device import cpu_model_name

    print(f"CPU: {cpu_model_name()}; torch {torch.__version__}; overrides: {' '.join(sets)}")
    rows = measure(sets, seeds, sizes)
    print(summary(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
