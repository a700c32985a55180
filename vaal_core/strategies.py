"""The query-strategy interface and its registry.

A strategy sees a `QueryContext` (pool, trained task model, un-augmented data, device, seeded
generators) and returns training-set indices to label. Strategies register by name so specs and
the command line refer to them as strings; the loop never knows which one it runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from .pool import Pool
from .spec import Spec, SpecError
from .trainer import Batches, predict_logits


@dataclass
class QueryContext:
    spec: Spec
    pool: Pool
    task_model: nn.Module
    batches: Batches
    rng: np.random.Generator
    generator: torch.Generator
    cycle: int
    progress: bool = True
    # what the strategy wants in the cycle record (extra training seconds, diagnostics, ...);
    # JSON-serialisable values only. The loop writes it as the record's `query_stats`.
    stats: dict[str, Any] = field(default_factory=dict)
    _cache: dict[str, Any] = field(default_factory=dict)

    @property
    def device(self) -> torch.device:
        return self.batches.device

    def probabilities(self, idx: np.ndarray) -> torch.Tensor:
        """Softmax of the task model on images `idx` (eval mode, no augmentation), cached per cycle."""
        key = ("probs", idx.tobytes())
        if key not in self._cache:
            logits = predict_logits(
                self.task_model,
                self.batches,
                idx,
                self.spec.task.eval_batch_size,
                self.spec.runtime,
            )
            self._cache[key] = logits.softmax(1)
        return self._cache[key]


class Strategy:
    """Base class: subclasses implement `select`; stateful ones also override the state methods."""

    name: str = ""

    def __init__(self, spec: Spec):
        self.spec = spec

    def select(self, ctx: QueryContext, budget: int) -> np.ndarray:
        raise NotImplementedError

    @property
    def carries_state(self) -> bool:
        """Whether `state_dict` must survive to the next cycle (and so through a resume)."""
        return False

    def state_dict(self) -> dict[str, Any] | None:
        """State that must survive to the next cycle (None: the strategy is stateless)."""
        return None

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


STRATEGIES: dict[str, type[Strategy]] = {}


def register_strategy(name: str) -> Callable[[type[Strategy]], type[Strategy]]:
    def deco(cls: type[Strategy]) -> type[Strategy]:
        cls.name = name
        STRATEGIES[name] = cls
        return cls

    return deco


def _import_plugins() -> None:
    """Strategies defined outside this module register themselves on import."""
    import importlib

    for module in ("vaal_core.vaal", "baselines"):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as e:
            if e.name != module:
                raise


def check_strategy_name(name: str) -> None:
    _import_plugins()
    if name not in STRATEGIES:
        raise SpecError(f"unknown strategy '{name}'; valid names: {', '.join(sorted(STRATEGIES))}")


def make_strategy(name: str, spec: Spec) -> Strategy:
    check_strategy_name(name)
    return STRATEGIES[name](spec)


@register_strategy("random")
class RandomStrategy(Strategy):
    """Uniform sampling without replacement from the unlabeled pool: the paper's baseline."""

    def select(self, ctx: QueryContext, budget: int) -> np.ndarray:
        return np.sort(ctx.rng.choice(ctx.pool.unlabeled, size=budget, replace=False))
