"""The shipped experiment specs as the analysis sees them: what each runs and which command runs it.

Expected-run lists and every command a caption suggests come from here, read from
experiments/*.yaml and experiments/ablations/*.yaml by the engine's own loader (`load_spec`), so
they cannot drift from what the specs run (a hand-kept list once expected `ensemble_varr` on
Cityscapes and left out `suggestive_annotation`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from .reference import dataset_key

__all__ = [
    "SPEC_ROOT",
    "ShippedSpec",
    "shipped_specs",
    "spec_for_experiment",
    "dataset_strategies",
    "dataset_command",
]

SPEC_ROOT = Path(__file__).resolve().parents[1] / "experiments"
# make target per spec folder (see the Makefile's `reproduce-%` and `ablation-%` rules)
_TARGETS = {"": "reproduce-", "ablations": "ablation-"}


@dataclass(frozen=True)
class ShippedSpec:
    """One spec file: its experiment name, dataset key, strategies and the make target running it."""

    path: Path
    experiment: str
    dataset: str
    strategies: tuple[str, ...]
    target: str

    @property
    def command(self) -> str:
        return f"make {self.target}"

    @property
    def is_ablation(self) -> bool:
        return self.target.startswith(_TARGETS["ablations"])


@cache
def _load(root: Path) -> tuple[ShippedSpec, ...]:
    from vaal_core.spec import load_spec  # torch-free: validates specs without the engine

    out = []
    for folder, prefix in _TARGETS.items():
        for path in sorted((root / folder).glob("*.yaml")):
            spec = load_spec(path)
            out.append(
                ShippedSpec(
                    path=path,
                    experiment=spec.experiment,
                    dataset=dataset_key(spec.dataset.name),
                    strategies=tuple(spec.strategies),
                    target=prefix + path.stem,
                )
            )
    return tuple(out)


def shipped_specs(root: Path | None = None) -> tuple[ShippedSpec, ...]:
    """Every shipped spec (main specs first, then ablations); none when the folder is absent."""
    root = SPEC_ROOT if root is None else Path(root)
    return _load(root) if root.is_dir() else ()


def spec_for_experiment(experiment: str) -> ShippedSpec | None:
    """The shipped spec whose `experiment:` is this name, None when no shipped spec makes it."""
    return next((s for s in shipped_specs() if s.experiment == experiment), None)


def _main_specs(dataset: str) -> list[ShippedSpec]:
    key = dataset_key(dataset)
    return [s for s in shipped_specs() if s.dataset == key and not s.is_ablation]


def dataset_strategies(dataset: str) -> tuple[str, ...]:
    """Strategies the shipped main spec(s) of a dataset run, in spec order (empty if no spec)."""
    names: dict[str, None] = {}
    for spec in _main_specs(dataset):
        names.update(dict.fromkeys(spec.strategies))
    return tuple(names)


def dataset_command(dataset: str) -> str:
    """The command making a dataset's main runs, or what to write when no spec ships for it."""
    specs = _main_specs(dataset)
    if specs:
        return specs[0].command
    return f"no shipped spec for {dataset}: write experiments/{dataset_key(dataset)}.yaml"
