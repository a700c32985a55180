"""The package's lazily loaded names resolve: `vaal_core.ActiveLoop` and friends import their
module on first use, by a name written as a string, which no import checker follows (a module
moved without its string updated would fail only here)."""

from __future__ import annotations

import pytest

import vaal_core


@pytest.mark.parametrize("name", vaal_core.__all__)
def test_every_public_name_resolves(name):
    assert getattr(vaal_core, name) is not None
