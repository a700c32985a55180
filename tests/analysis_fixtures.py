"""Hand-written run directories in vaal_core's layout, for the analysis tests.

Imported as a plain module (not a pytest conftest) so the tests can build exactly the logs they need.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path

import yaml

SPEC_HASH = "0123456789ab"


def record(
    experiment: str,
    strategy: str,
    seed: int,
    cycle: int,
    value: float,
    *,
    dataset: str = "mnist",
    protocol: str = "standard",
    pool: int = 1000,
    initial: int = 100,
    budget: int = 100,
    cycles: int = 3,
    spec_hash: str = SPEC_HASH,
    metric: str = "accuracy",
    query_s: float = 0.5,
) -> dict:
    """One cycle record with every field the engine writes.

    Every strategy of a seed starts from the same labeled set (cycle 0: one `labeled_sha1`), then
    each trains on what it selected; the task model fits its labeled set (the health fields).
    """
    n_labeled = initial + cycle * budget
    labeled = f"{seed}" if cycle == 0 else f"{experiment}/{strategy}/{seed}/{cycle}"
    last = cycle == cycles - 1
    return {
        "run_id": f"{experiment}-{strategy}-{seed}",
        "experiment": experiment,
        "dataset": dataset,
        "strategy": strategy,
        "protocol": protocol,
        "seed": seed,
        "spec_hash": spec_hash,
        "git_rev": "deadbeef",
        "cycle": cycle,
        "n_labeled": n_labeled,
        "fraction": n_labeled / pool,
        "metric": metric,
        "value": value,
        "train_s": 1.0,
        "query_s": 0.0 if last else query_s,
        "peak_mem_mb": 100.0,
        "labeled_sha1": hashlib.sha1(labeled.encode()).hexdigest(),
        "n_selected": 0 if last else budget,
        "selected_sha1": None if last else f"{cycle:040d}",
        "precision": "fp32",
        "device": "cpu",
        "train_loss": 0.05,
        "train_fit": 0.99,
        "train_fit_n": n_labeled,
        "fit_ok": True,
        "nonfinite_losses": 0,
        "val_value": None,
    }


def write_run(
    root: Path,
    experiment: str,
    strategy: str,
    seed: int,
    values: Sequence[float],
    *,
    cycles: int | None = None,
    tail: str = "",
    extra: Callable[[int], dict] | None = None,
    env: dict | None = None,
    **kw,
) -> Path:
    """A run dir with spec.yaml, env.json and one record per value; `tail` is appended raw.

    `extra(cycle)` gives fields merged into that cycle's record (query_stats, selected_classes...).
    """
    cycles = len(values) if cycles is None else cycles
    run_dir = Path(root) / experiment / strategy / f"seed-{seed}"
    run_dir.mkdir(parents=True, exist_ok=True)
    spec = {
        "experiment": experiment,
        "dataset": {"name": kw.get("dataset", "mnist")},
        "protocol": {"name": kw.get("protocol", "standard")},
        "active": {
            "initial": kw.get("initial", 100),
            "budget": kw.get("budget", 100),
            "cycles": cycles,
        },
    }
    (run_dir / "spec.yaml").write_text(yaml.safe_dump(spec))
    env = env if env is not None else {"python": "3", "device": "cpu"}
    (run_dir / "env.json").write_text(json.dumps(env))
    lines = [
        json.dumps(
            record(experiment, strategy, seed, c, v, cycles=cycles, **kw)
            | (extra(c) if extra is not None else {})
        )
        + "\n"
        for c, v in enumerate(values)
    ]
    (run_dir / "cycles.jsonl").write_text("".join(lines) + tail)
    return run_dir


def write_demo(root: Path, seeds: Sequence[int] = (0, 1, 2)) -> Path:
    """An MNIST-like experiment where vaal is clearly above random at every budget after the first.

    Per seed j = 0.002 * seed, AUBC(random) = 0.7875 + j and AUBC(vaal) = 0.82 + 0.25 j.
    """
    for seed in seeds:
        j = 0.002 * seed
        write_run(root, "demo_mnist", "random", seed, [0.70 + j, 0.80 + j, 0.85 + j])
        write_run(root, "demo_mnist", "vaal", seed, [0.70 + j, 0.84 - j, 0.90 + 2 * j])
    return Path(root)


def vaal_stats(cycle: int, auc: Sequence[float] = (0.52, 0.80), band: float = 0.05) -> dict:
    """Synthetic VAAL query_stats: the AUC of cycle c is auc[c] (default: chance, then learned)."""
    a = auc[min(cycle, len(auc) - 1)]
    return {
        "disc_auc": a,
        "disc_auc_band": band,
        "disc_acc": a,
        "disc_loss": 0.6,
        "p_labeled_labeled": 0.5 + (a - 0.5) / 2,
        "p_labeled_unlabeled": 0.5 - (a - 0.5) / 2,
        "p_labeled_selected": 0.3,
        "vae_recon": 0.1,
        "vae_kl": 2.0,
        "active_units": 4 + cycle,
        "latent_dim": 8,
    }


def _classes(strategy: str, cycle: int, last: int, k: int = 10) -> dict:
    """Histogram of 100 queried images: random uniform, others piled on class 0 (a biased query)."""
    if cycle == last:
        return {"selected_classes": None}
    hist = [10] * k if strategy == "random" else [55] + [5] * (k - 1)
    return {"selected_classes": hist}


def write_everything(root: Path) -> Path:
    """Logs for every figure: MNIST demo with VAAL diagnostics and class histograms (3 seeds),
    CIFAR10 and Cityscapes (2 seeds), and one experiment of each ablation kind (2 seeds).

    The VAAL discriminator of the demo is at chance on cycle 0 (AUC 0.52, band 0.05) and learned on
    cycle 1 (AUC 0.80): exactly one chance warning per seed.
    """
    root = Path(root)
    for seed in (0, 1, 2):
        j = 0.002 * seed
        for strategy, values in (
            ("random", [0.70 + j, 0.80 + j, 0.85 + j]),
            ("vaal", [0.70 + j, 0.84 - j, 0.90 + 2 * j]),
        ):
            stats = (
                (lambda c: {"query_stats": vaal_stats(c) if c < 2 else {}})
                if strategy == "vaal"
                else None
            )
            write_run(
                root,
                "demo_mnist",
                strategy,
                seed,
                values,
                extra=lambda c, s=strategy, q=stats: _classes(s, c, 2) | (q(c) if q else {}),
                query_s=0.5 if strategy == "random" else 3.0,
            )
    for seed in (0, 1):
        for dataset, metric, hash_ in (("cifar10", "accuracy", "c1"), ("cityscapes", "miou", "c2")):
            for strategy, base in (("random", 0.40), ("vaal", 0.42)):
                write_run(
                    root,
                    dataset,
                    strategy,
                    seed,
                    [0.30 + seed / 100, base + seed / 100, base + 0.05],
                    dataset=dataset,
                    metric=metric,
                    spec_hash=hash_ * 6,
                )
    ablations = {
        "noise10": ("random", "vaal"),
        "budget_small": ("random", "vaal"),
        "biased": ("random", "vaal"),
        "noadv": ("vaal",),
        "fixedvae": ("vaal",),
        "klmean": ("vaal",),
    }
    for i, (kind, strategies) in enumerate(ablations.items()):
        for seed in (0, 1):
            for strategy in strategies:
                noisy = (
                    (lambda c: {"label_noise_flipped": None if c == 2 else list(range(10))})
                    if kind.startswith("noise")
                    else None
                )
                write_run(
                    root,
                    f"ablation_{kind}_mnist",
                    strategy,
                    seed,
                    [0.68, 0.78 + i / 100 + seed / 100, 0.84 + i / 100],
                    spec_hash=f"{i:012d}",
                    extra=noisy,
                )
    return root
