"""The VAAL reproduction engine: specs, data, label pool, task training, query strategies and the
resumable active-learning loop. Entry points: `python -m vaal_core run|demo` and `ActiveLoop`."""

from .loop import ActiveLoop
from .spec import Spec, SpecError, load_spec
from .strategies import STRATEGIES, QueryContext, Strategy, register_strategy

__all__ = [
    "STRATEGIES",
    "ActiveLoop",
    "QueryContext",
    "Spec",
    "SpecError",
    "Strategy",
    "load_spec",
    "register_strategy",
]
