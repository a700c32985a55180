"""Small specs for fast tests on the real MNIST."""

from __future__ import annotations

from vaal_core.spec import spec_from_dict

TINY = {
    "experiment": "tiny",
    "dataset": {"name": "mnist", "pool_size": 600, "image_size": 32, "test_size": 500},
    "task": {
        "model": "small_cnn",
        "iterations": 8,
        "batch_size": 32,
        "lr": 0.05,
        "eval_batch_size": 2048,
    },
    "active": {"initial": 40, "budget": 40, "cycles": 3},
    "vaal": {"width": 8, "epochs": 0.5, "batch_size": 64},
    "runtime": {"precision": "fp32", "num_threads": 1},
}

# the same spec as CLI overrides, for subprocess runs of experiments/mnist.yaml
TINY_OVERRIDES = [
    "experiment=tiny",
    "dataset.pool_size=600",
    "dataset.test_size=500",
    "task.iterations=8",
    "task.batch_size=32",
    "task.eval_batch_size=2048",
    "active.initial=40",
    "active.budget=40",
    "active.cycles=3",
    "vaal.width=8",
    "vaal.epochs=0.5",
    "vaal.batch_size=64",
    "runtime.precision=fp32",
    "runtime.num_threads=1",
]


def tiny_spec(**sections):
    data = {k: dict(v) if isinstance(v, dict) else v for k, v in TINY.items()}
    for section, values in sections.items():
        if isinstance(values, dict):
            data[section] = {**data.get(section, {}), **values}
        else:
            data[section] = values
    return spec_from_dict(data)


def fixture_spec_dict(name: str, **dataset) -> dict:
    """Two tiny cycles of small_cnn on a fixture dataset written in its real layout."""
    return {
        "experiment": f"fixture_{name}",
        "dataset": {"name": name, "image_size": 32, **dataset},
        "task": {
            "model": "small_cnn",
            "iterations": 4,
            "batch_size": 8,
            "eval_batch_size": 64,
            "augment": True,
        },
        "active": {"initial": 8, "budget": 6, "cycles": 2},
        "vaal": {"width": 8, "epochs": 0.2, "batch_size": 8},
        "runtime": {"precision": "fp32", "num_threads": 1},
    }
