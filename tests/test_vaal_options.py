"""VAAL is configured like every strategy: its settings are its own options type
(`VAALOptions`, the spec's `vaal:` section), registered as the baselines' are, checked at
preflight, and the engine's schema names no strategy. The spec key `vaal:` and every spec hash
stay as they were (tests/test_spec_hash_pins.py pins every shipped spec under every preset)."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import tiny_spec
from vaal_core.__main__ import main as vaal_cli
from vaal_core.api import get_strategy
from vaal_core.errors import SpecError
from vaal_core.plugins import load_plugins
from vaal_core.run.loop import preflight
from vaal_core.spec import Spec, load_spec, spec_from_dict
from vaal_core.spec.hashing import LEGACY_SECTIONS
from vaal_core.strategies import STRATEGIES, make_strategy
from vaal_core.vaal import VAALStrategy
from vaal_core.vaal.game import vaal_iterations
from vaal_core.vaal.options import VAALOptions

REPO = Path(__file__).resolve().parent.parent

# the fields the engine's schema declared OMIT_AT_DEFAULT when it still held VAAL's settings
WRITTEN_ONLY_WHEN_SET = {"input_range", "init", "lr_step_fraction", "lr_gamma"}


def test_the_legacy_table_is_vaals_own_defaults():
    """Every option has the default and the hash form the engine's field had (a new option would
    be written only when set, so it cannot move a recorded hash)."""
    fields = dataclasses.fields(VAALOptions)
    assert LEGACY_SECTIONS == {
        f"vaal.{f.name}": (f.default, f.name not in WRITTEN_ONLY_WHEN_SET) for f in fields
    }
    for key, (default, _) in LEGACY_SECTIONS.items():
        assert type(default) is type(getattr(VAALOptions(), key.split(".")[1])), key


def test_vaal_registers_its_options_as_the_baselines_do_and_the_schema_names_no_strategy():
    load_plugins()
    assert (VAALStrategy.options_type, VAALStrategy.options_section) == (VAALOptions, "vaal")
    assert all(c.options_section == "baselines" for n, c in STRATEGIES.items() if n != "vaal")
    schema = {f.name for f in dataclasses.fields(Spec)}
    assert not schema & set(STRATEGIES.names()), "the engine's schema names a strategy"
    spec = tiny_spec(vaal={"width": 16, "epochs": 2})
    strategy = make_strategy("vaal", spec)
    assert strategy.options == VAALOptions.of(spec)
    assert (strategy.options.width, strategy.options.epochs, strategy.options.latent_dim) == (
        16,
        2.0,  # an int written for a float is the float, as the engine's field made it
        32,
    )
    # the iteration count reads the same options: epochs x pool / batch
    assert vaal_iterations(spec, 10, 100, 1000) == -(-2 * 1000 // strategy.options.batch_size)


def test_the_spec_round_trips_with_the_same_bytes():
    spec = load_spec(REPO / "experiments/cifar10.yaml", ["vaal.width=16", "vaal.init=original"])
    again = spec_from_dict(spec.to_dict())
    assert again == spec and again.to_yaml() == spec.to_yaml()
    assert spec.to_dict()["vaal"]["width"] == 16 and spec.to_dict()["vaal"]["init"] == "original"
    # a section that sets nothing (or only defaults) is the section left out
    assert spec_from_dict({"experiment": "x", "vaal": {"width": 128}}) == Spec("x")


@pytest.mark.parametrize(
    "sets, message",
    [
        (["vaal.width=0"], "spec key 'vaal.width' must be > 0, got 0"),
        (["vaal.num_adv_steps=-1"], "spec key 'vaal.num_adv_steps' must be >= 0, got -1"),
        (["vaal.image_size=48"], "'vaal.image_size' must be a power of two >= 8, got 48"),
        (["vaal.lr_step_fraction=2"], r"'vaal.lr_step_fraction' must lie in \(0, 1\], got 2.0"),
        (["vaal.input_range=raw"], r"'vaal.input_range' is 'raw'; valid values: \['standardized'"),
        (["vaal.game=minmax"], "'vaal.game' is 'minmax'; valid values"),
        (["vaal.width=2.5"], "spec key 'vaal.width' must be an integer, got 2.5"),
        (["vaal.widht=8"], r"unknown spec key 'vaal.widht' \(did you mean 'vaal.width'\?\)"),
        (["vall.width=8"], r"unknown spec key 'vall' \(did you mean 'vaal'\?\); valid keys: "),
    ],
)
def test_a_bad_vaal_value_fails_at_preflight_whichever_strategy_runs(sets, message):
    spec = load_spec(REPO / "experiments/mnist.yaml", sets)  # loads: VAAL checks at preflight
    with pytest.raises(SpecError, match=message):
        preflight(spec, "random")


def test_a_bad_vaal_value_is_one_error_line_before_anything_is_written(tmp_path, capsys):
    out = tmp_path / "out"
    args = ["run", "experiments/mnist.yaml", "--strategy", "vaal", "--seed", "0"]
    code = vaal_cli([*args, "--set", "vaal.latent_dim=0", "--out", str(out)])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(lines) == 1, lines
    assert lines[0].startswith("error: ") and "'vaal.latent_dim' must be > 0" in lines[0]
    assert not out.exists()


def test_the_api_sets_vaal_options_by_name_in_its_own_section():
    strategy = get_strategy("vaal", options={"width": 8, "epochs": 0.5})
    assert (strategy.strategy.options.width, strategy.strategy.options.epochs) == (8, 0.5)
    assert strategy.spec.to_dict()["vaal"]["width"] == 8
    with pytest.raises(SpecError, match=r"no option 'widht' \(did you mean 'width'\?\)"):
        get_strategy("vaal", options={"widht": 8})
    with pytest.raises(SpecError, match="'vaal.disc_layers' must be > 0"):
        get_strategy("vaal", options={"disc_layers": 0})


def test_the_loader_stays_torch_free_with_a_vaal_section():
    code = (
        "import sys; from vaal_core.spec import load_spec; "
        "s = load_spec('experiments/cifar10.yaml', ['vaal.width=8'], protocol='paper-exact'); "
        "s.hash(); print('torch' in sys.modules)"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert r.stdout.strip() == "False", r.stderr
