"""Hand-written run directories in vaal_core's layout, for the analysis tests.

Imported as a plain module (not a pytest conftest) so the tests can build exactly the logs they need.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
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
    """One cycle record with every field the engine writes."""
    n_labeled = initial + cycle * budget
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
        "labeled_sha1": f"{seed:040d}",
        "n_selected": 0 if last else budget,
        "selected_sha1": None if last else f"{cycle:040d}",
        "precision": "fp32",
        "device": "cpu",
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
    **kw,
) -> Path:
    """A run dir with spec.yaml, env.json and one record per value; `tail` is appended raw."""
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
    (run_dir / "env.json").write_text(json.dumps({"python": "3", "device": "cpu"}))
    lines = [
        json.dumps(record(experiment, strategy, seed, c, v, cycles=cycles, **kw)) + "\n"
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
