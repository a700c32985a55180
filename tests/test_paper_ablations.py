"""The paper's ablations as specs on the paper's datasets (CIFAR100, Caltech-256): each loads,
validates, names its paper section, changes only what its ablation changes, and runs random."""

from __future__ import annotations

from pathlib import Path

import pytest

from analysis import ablation_kind
from analysis.expected import ablation_family
from vaal_core.run.loop import preflight
from vaal_core.spec import load_spec
from vaal_core.vaal.options import VAALOptions

REPO = Path(__file__).resolve().parent.parent
ABLATIONS = REPO / "experiments" / "ablations"

# spec file -> (base spec, ablation family, what it changes as (section, key, value))
PAPER_ABLATIONS = {
    "cifar100_noise10": ("cifar100", "noise", [("protocol", "label_noise", 0.1)]),
    "cifar100_noise20": ("cifar100", "noise", [("protocol", "label_noise", 0.2)]),
    "cifar100_noise30": ("cifar100", "noise", [("protocol", "label_noise", 0.3)]),
    "cifar100_budget_large": (
        "cifar100",
        "budget",
        [("active", "budget", 5000), ("active", "cycles", 4)],
    ),
    "cifar100_budget_xlarge": (
        "cifar100",
        "budget",
        [("active", "budget", 10000), ("active", "cycles", 3)],
    ),
    "cifar100_biased10": (
        "cifar100",
        "biased",
        [("protocol", "initial_classes", tuple(range(10, 100)))],
    ),
    "cifar100_biased20": (
        "cifar100",
        "biased",
        [("protocol", "initial_classes", tuple(range(20, 100)))],
    ),
    "caltech256_biased20": (
        "caltech256",
        "biased",
        [("protocol", "initial_classes", tuple(range(20, 256)))],
    ),
    "cifar100_fixedvae": ("cifar100", "vaal", [("vaal", "game", "fixed_vae")]),
    "cifar100_noadv": ("cifar100", "vaal", [("vaal", "adversary_param", 0.0)]),
}


@pytest.mark.parametrize("name", sorted(PAPER_ABLATIONS))
def test_paper_ablation_spec_loads_validates_and_changes_only_its_keys(name):
    base_name, family, changes = PAPER_ABLATIONS[name]
    path = ABLATIONS / f"{name}.yaml"
    header = path.read_text().splitlines()[0]
    assert header.startswith("#") and "paper Sec. 5" in header
    spec = load_spec(path)
    base = load_spec(REPO / "experiments" / f"{base_name}.yaml")
    assert spec.dataset.name == base.dataset.name and spec.protocol.name == base.protocol.name
    kind = ablation_kind(spec.experiment, spec.dataset.name)
    assert spec.experiment == f"ablation_{kind}_{base_name}"
    assert ablation_family(kind) == family  # the figures and tables find it
    assert "random" in spec.strategies and "vaal" in spec.strategies
    if family != "vaal":  # data ablations run every compared strategy of the base
        assert spec.strategies == base.strategies
    for strategy in spec.strategies:
        preflight(spec, strategy)
    got, want = spec.to_dict(), base.to_dict()
    for section, key, value in changes:
        owner = VAALOptions.of(spec) if section == "vaal" else getattr(spec, section)
        actual = getattr(owner, key)
        assert actual == value, (section, key)
        want[section][key] = got[section][key]
    want["experiment"], want["strategies"] = got["experiment"], got["strategies"]
    assert got == want  # nothing else differs from the paper's experiment


def test_the_mnist_ablations_stay_for_the_demo():
    for kind in ("noise10", "noise20", "noise30", "budget_small", "budget_large", "biased"):
        assert load_spec(ABLATIONS / f"mnist_{kind}.yaml").experiment == f"ablation_{kind}_mnist"
