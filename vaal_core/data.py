"""Compatibility import path: the data layer lives in `vaal_core.datasets`."""

from .datasets import *  # noqa: F403
from .datasets import __all__  # noqa: F401
