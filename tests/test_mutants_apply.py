"""`make mutate`'s mutants still apply: each one's fragment is found exactly once in its file.

A refactor that rewrites an effect site would otherwise leave its mutant "not applied", and the
mutation check would stop guarding that quirk without anyone noticing (benchmarks/mutate.py).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _mutants():
    spec = importlib.util.spec_from_file_location("mutate", REPO / "benchmarks" / "mutate.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("mutate", module)  # its dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module.MUTANTS


@pytest.mark.parametrize("mutant", _mutants(), ids=lambda m: m.name)
def test_mutant_fragment_is_found_exactly_once(mutant):
    text = (REPO / mutant.path).read_text()
    assert text.count(mutant.old) == 1, f"{mutant.name}: fragment found {text.count(mutant.old)}x"
