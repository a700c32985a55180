"""Spec keys a run sets but never reads: a `warning:` line each, naming what wins instead.

`task.epochs: 50` beside `task.iterations: 300` trains 300 steps; the 50 is silently ignored and
the reader of the spec is misled. A key counts as set when its value differs from the section's
default (a protocol preset's values count as set). Each rule is one entry of `RULES`: the key,
and a function of the spec that says what wins over it, or None while the key is read.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from . import Spec


@dataclass(frozen=True)
class Rule:
    key: str  # section.key
    winner: Callable[[Spec], str | None]  # what makes the key unused, None while it is read


def _schedule_without(*schedules: str) -> Callable[[Spec], str | None]:
    """Unused unless `task.schedule` is one of `schedules`."""

    def winner(spec: Spec) -> str | None:
        if spec.task.schedule in schedules:
            return None
        return f"task.schedule is {spec.task.schedule!r}, which does not read it"

    return winner


def _iterations_set(spec: Spec) -> str | None:
    if spec.task.iterations is None:
        return None
    return f"task.iterations ({spec.task.iterations}) is set and wins"


RULES: tuple[Rule, ...] = (
    Rule("task.epochs", _iterations_set),
    Rule("task.epoch_basis", _iterations_set),
    Rule("task.lr_milestones", _schedule_without("multistep")),
    Rule("task.lr_step_fraction", _schedule_without("step")),
    Rule("task.lr_gamma", _schedule_without("multistep", "step")),
    Rule(
        "task.momentum",
        lambda s: None if s.task.optimizer == "sgd" else f"task.optimizer is {s.task.optimizer!r}",
    ),
    Rule(
        "task.augmentation",
        lambda s: None if s.task.augment else "task.augment is false: nothing is augmented",
    ),
    # not `vaal.epochs` under `vaal.match_task_iterations`: the shipped specs carry it for
    # `--protocol modern`, where it is read, so it would warn on every run of their own protocol
)


def unused_keys(spec: Spec, strategies: Iterable[str]) -> list[str]:
    """One message per key `spec` sets that a run of `strategies` never reads."""
    messages = []
    for rule in RULES:
        section, name = rule.key.split(".")
        value = getattr(getattr(spec, section), name)
        if value == _default(section, name):
            continue
        if (why := rule.winner(spec)) is not None:
            messages.append(f"spec key '{rule.key}' ({_shown(value)}) is not used: {why}")
    return messages + _unused_options(spec, list(strategies))


def _unused_options(spec: Spec, strategies: list[str]) -> list[str]:
    """`baselines.*` keys that only strategies outside `strategies` read."""
    if not spec.baselines.owned:
        return []
    from ..plugins import load_plugins
    from ..strategies import STRATEGIES
    from . import option_key

    load_plugins()
    readers: dict[str, list[str]] = {}
    for name, cls in STRATEGIES.items():
        if cls.options_type is None or cls.options_section != "baselines":
            continue
        for f in dataclasses.fields(cls.options_type):
            readers.setdefault(option_key(f, cls.option_prefix), []).append(name)
    messages = []
    for key, value in spec.baselines.owned:
        owners = sorted(readers.get(key, []))
        if owners and not set(owners) & set(strategies):
            messages.append(
                f"spec key 'baselines.{key}' ({_shown(value)}) is not used: only "
                f"{', '.join(owners)} read{'s' if len(owners) == 1 else ''} it, and this command "
                f"runs {', '.join(strategies)}"
            )
    return messages


def _default(section: str, name: str) -> Any:
    f = {f.name: f for f in dataclasses.fields(Spec)}[section]
    defaults = f.default_factory()  # every section has its dataclass's defaults
    return getattr(defaults, name)


def _shown(value: Any) -> str:
    return str(list(value)) if isinstance(value, tuple) else str(value)
