"""Strategies by name: specs and the command line name them as strings, plug-ins register
theirs on import, and every name and option is checked before any compute."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from ..plugins import load_plugins
from ..registry import Registry, did_you_mean
from ..spec import Spec, SpecError, option_key
from .contract import Strategy, strategy_options, supports

STRATEGIES: Registry[type[Strategy]] = Registry("strategy", SpecError)


def register_strategy(name: str) -> Callable[[type[Strategy]], type[Strategy]]:
    def deco(cls: type[Strategy]) -> type[Strategy]:
        cls.name = name
        return STRATEGIES.add(name, cls)

    return deco


def check_strategy_name(name: str) -> None:
    load_plugins()  # VAAL itself and every plug-in (baselines) register on import
    STRATEGIES.get(name)


def check_owned_options(spec: Spec) -> None:
    """Every section of the spec that strategies own (`baselines`, VAAL's `vaal`) belongs to a
    registered strategy, every key in it to one of the strategies that own the section, and
    every registered strategy's options accept the spec's values: a SpecError before any
    compute, whichever strategy runs. A key several strategies share (`mc_samples`) has one
    default."""
    load_plugins()
    owners: dict[str, dict[str, list[type[Strategy]]]] = {"baselines": {}}
    for cls in STRATEGIES.values():
        keys = owners.setdefault(cls.options_section, {})
        for f in dataclasses.fields(cls.options_type) if cls.options_type is not None else ():
            keys.setdefault(option_key(f, cls.option_prefix), []).append(cls)
    for name, _ in spec.sections:
        if name not in owners:
            valid = sorted({f.name for f in dataclasses.fields(Spec)} - {"sections"} | set(owners))
            raise SpecError(
                f"unknown spec key '{name}'{did_you_mean(name, valid)}; valid keys: "
                f"{', '.join(valid)}"
            )
    for section, keys in owners.items():
        for key, _ in spec.section(section).owned:
            if key not in keys:
                hint = did_you_mean(f"{section}.{key}", [f"{section}.{k}" for k in keys])
                raise SpecError(
                    f"unknown spec key '{section}.{key}'{hint}; valid keys: "
                    f"{', '.join(sorted(keys))}"
                )
    readers = {c.name: c for keys in owners.values() for cs in keys.values() for c in cs}
    for name in sorted(readers):  # the same first error every time
        strategy_options(readers[name], spec)


def check_strategy_supports(name: str, kind: str) -> None:
    """An unsupported (strategy, task kind) pairing is a spec error, raised before any compute.

    The loop's preflight calls it for every (strategy, spec) it is about to run.
    """
    check_strategy_name(name)
    cls = STRATEGIES[name]
    if not supports(cls, kind):
        able = sorted(n for n, c in STRATEGIES.items() if supports(c, kind))
        raise SpecError(
            f"strategy '{name}' does not support {kind} tasks (it supports "
            f"{', '.join(sorted(cls.task_kinds))}); strategies for {kind}: {', '.join(able) or 'none'}"
        )


def make_strategy(name: str, spec: Spec) -> Strategy:
    """The strategy `name` with its options from `spec`; the name and its pairing with the task
    kind were checked once, at preflight (`vaal_core.run.loop.preflight`)."""
    return STRATEGIES[name](spec)
