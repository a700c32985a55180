"""The VAAL reproduction engine: specs, data, label pool, task training, query strategies and the
resumable active-learning loop. Entry points: `python -m vaal_core run|demo` and `ActiveLoop`."""

from importlib import import_module

from .spec import Spec, SpecError, load_spec

# torch-backed names load on first use, so `python -m vaal_core` can reject a bad spec in a
# fraction of a second instead of after importing torch (seconds).
_LAZY = {
    "ActiveLoop": ".run.loop",
    "STRATEGIES": ".strategies",
    "QueryContext": ".strategies",
    "Strategy": ".strategies",
    "register_strategy": ".strategies",
    "get_strategy": ".api",  # a strategy for one's own model, data and loop (docs/api.md)
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "STRATEGIES",
    "ActiveLoop",
    "QueryContext",
    "Spec",
    "SpecError",
    "Strategy",
    "get_strategy",
    "load_spec",
    "register_strategy",
]
