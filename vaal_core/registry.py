"""One typed registry for every extension axis: names in specs and on the command line -> entries.

Task models, strategies, task kinds, dataset layouts, optimisers, schedules, augmentations and
launchers each keep one `Registry`. It behaves as the read-only dict the code used before
(`name in R`, `R[name]`, iteration over names, `.items()`), and adds `register` (a decorator) and
`get` (an unknown name is one error naming the valid ones). An open registry that is asked for a
name it does not hold first loads the plug-ins (vaal_core/plugins.py).

Registries whose names a spec validates before torch is imported are *declared*: their names are
listed in the torch-free `vaal_core.spec.names`, and `check_declared()` fails at import time when the
two drift apart. No torch here: the spec loader imports this module's neighbours only.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Iterator
from typing import Generic, TypeVar

from .plugins import load_plugins, not_installed_hint

T = TypeVar("T")


def did_you_mean(name: str, valid: Iterable[str]) -> str:
    """' (did you mean 'x'?)' for the closest valid name, or '' when none is close."""
    close = difflib.get_close_matches(name, list(valid), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


class Registry(Generic[T]):
    """Named entries of one kind (`what`, as a message says it: "strategy", "task model")."""

    def __init__(
        self,
        what: str,
        error: type[Exception] = KeyError,
        declared: Iterable[str] | None = None,
    ):
        self.what, self.error = what, error
        self.declared = None if declared is None else frozenset(declared)
        self._entries: dict[str, T] = {}

    # ------------------------------------------------------------------ writing
    def add(self, name: str, entry: T) -> T:
        """Register `entry` under `name`; a name registered twice is a programming error."""
        if name in self._entries and self._entries[name] is not entry:
            raise TypeError(f"{self.what} '{name}' is registered twice")
        if self.declared is not None and name not in self.declared:
            raise TypeError(
                f"{self.what} '{name}' is not declared in vaal_core/spec/names.py, which the spec "
                "validator reads before torch loads; add it there"
            )
        self._entries[name] = entry
        return entry

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator form of `add`: `@REGISTRY.register("name")`."""
        return lambda entry: self.add(name, entry)

    def check_declared(self) -> None:
        """Every declared name has an entry (called once the owning module registered them)."""
        if self.declared is not None and (missing := self.declared - set(self._entries)):
            raise TypeError(
                f"{self.what} names {sorted(missing)} are declared in vaal_core/spec/names.py "
                "but never registered"
            )

    # ------------------------------------------------------------------ reading
    def get(self, name: str) -> T:
        """The entry `name`; a name not (yet) here first loads the plug-ins."""
        if name not in self._entries and self.declared is None:
            load_plugins()
        if name not in self._entries:
            raise self.error(
                f"unknown {self.what} '{name}'{did_you_mean(name, self.names())}; valid names: "
                f"{', '.join(self.names())}{not_installed_hint() if self.declared is None else ''}"
            )
        return self._entries[name]

    def names(self) -> list[str]:
        """Every name, plug-ins' included (an open registry loads them first)."""
        if self.declared is None:
            load_plugins()
        return sorted(self._entries)

    def keys(self):
        return self._entries.keys()

    def items(self):
        return self._entries.items()

    def values(self):
        return self._entries.values()

    def __getitem__(self, name: str) -> T:
        return self._entries[name]

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.what!r}: {', '.join(sorted(self._entries))})"
