"""YAML scalars to the annotated type of a spec field, or one SpecError naming the key."""

from __future__ import annotations

import types
import typing
from typing import Any

from ..errors import SpecError


def check_type(value: Any, tp: Any, key: str) -> Any:
    """Coerce YAML scalars to the annotated type, or raise naming the key."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return check_type(value, inner[0], key)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise SpecError(f"spec key '{key}' must be a list, got {value!r}")
        (elem, _) = (
            typing.get_args(tp) if len(typing.get_args(tp)) == 2 else (typing.get_args(tp)[0], ...)
        )
        return tuple(check_type(v, elem, f"{key}[{i}]") for i, v in enumerate(value))
    if tp is bool:
        if not isinstance(value, bool):
            raise SpecError(f"spec key '{key}' must be true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise SpecError(f"spec key '{key}' must be an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SpecError(f"spec key '{key}' must be a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise SpecError(f"spec key '{key}' must be a string, got {value!r}")
        return value
    raise TypeError(f"unsupported annotation {tp} for {key}")


def frozen(value: Any, key: str) -> Any:
    """A YAML value kept for a plug-in to check: scalars, and lists of them as tuples."""
    if isinstance(value, (list, tuple)):
        return tuple(frozen(v, f"{key}[{i}]") for i, v in enumerate(value))
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise SpecError(f"spec key '{key}' must be a value or a list of values, got {value!r}")
