"""Query strategies: the contract every strategy answers by, the context it reads, the registry
that names it, and the two built-in ones (random, full). Strategies register by name so specs
and the command line refer to them as strings; the loop never knows which one it runs.

- contract.py  `Strategy`, `Picks`, `Selection`, `ScoreKind`, the budget and selection checks
- context.py   `QueryContext`: what a strategy may read in a round, computed once per cycle
- registry.py  `STRATEGIES`, `register_strategy`, the name and option checks
- builtin.py   `random`, `full`
"""

from __future__ import annotations

from ..spec import SpecError
from ..train.passes import entropy
from . import builtin
from .context import QueryContext
from .contract import (
    ANY_KIND,
    Picks,
    ScoreKind,
    Selection,
    Strategy,
    check_at_least,
    check_budget,
    check_selection,
    strategy_options,
    supports,
)
from .registry import (
    STRATEGIES,
    check_owned_options,
    check_strategy_name,
    check_strategy_supports,
    make_strategy,
    register_strategy,
)

__all__ = [
    "ANY_KIND",
    "STRATEGIES",
    "Picks",
    "QueryContext",
    "ScoreKind",
    "Selection",
    "SpecError",
    "Strategy",
    "builtin",
    "check_at_least",
    "check_budget",
    "check_owned_options",
    "check_selection",
    "check_strategy_name",
    "check_strategy_supports",
    "entropy",
    "make_strategy",
    "register_strategy",
    "strategy_options",
    "supports",
]
