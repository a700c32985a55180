"""The one registry type (vaal_core/registry.py) and the spec names that derive from registries."""

from __future__ import annotations

import pytest

from tests.helpers import tiny_spec
from vaal_core import spec as spec_module
from vaal_core.datasets import DATASETS, register_dataset
from vaal_core.errors import SpecError
from vaal_core.registry import Registry
from vaal_core.run.loop import preflight
from vaal_core.spec.names import AUGMENTATION_PRESETS
from vaal_core.tasks import TASKS
from vaal_core.train.augment import AUGMENTATIONS, PAIR_AUGMENTATIONS
from vaal_core.train.schedules import OPTIMIZERS, SCHEDULES


def test_register_get_and_the_dict_view():
    reg: Registry[int] = Registry("widget", SpecError)
    assert reg.register("one")(1) == 1  # the decorator hands the entry back
    reg.add("two", 2)
    assert reg.get("two") == 2 and reg["one"] == 1
    assert "one" in reg and "three" not in reg
    assert sorted(reg) == ["one", "two"] and len(reg) == 2 and dict(reg) == {"one": 1, "two": 2}
    with pytest.raises(SpecError, match="unknown widget 'three'; valid names: one, two"):
        reg.get("three")
    with pytest.raises(TypeError, match="widget 'one' is registered twice"):
        reg.add("one", 5)


def test_a_declared_registry_refuses_undeclared_names_and_reports_missing_ones():
    reg: Registry[int] = Registry("optimiser", ValueError, declared=("sgd", "adam"))
    with pytest.raises(TypeError, match="'lion' is not declared in vaal_core/spec/names.py"):
        reg.add("lion", 1)
    reg.add("sgd", 1)
    with pytest.raises(TypeError, match=r"\['adam'\] are declared .* but never registered"):
        reg.check_declared()
    with pytest.raises(ValueError, match="unknown optimiser 'lion'; valid names: sgd"):
        reg.get("lion")  # a closed registry: no plug-in can add to it


def test_the_spec_validates_exactly_the_registered_names():
    valid = spec_module.load._VALID
    assert "task.kind" not in valid  # an open registry: checked at preflight (below)
    assert valid["task.optimizer"] == set(OPTIMIZERS)
    assert valid["task.schedule"] == set(SCHEDULES)
    assert valid["task.augmentation"] == {
        *AUGMENTATION_PRESETS,
        *AUGMENTATIONS,
        *PAIR_AUGMENTATIONS,
    }
    with pytest.raises(SpecError, match="'task.schedule' is 'linear'; valid values"):
        spec_module.spec_from_dict({"experiment": "x", "task": {"schedule": "linear"}})


def test_an_unknown_task_kind_is_a_preflight_error_naming_the_registered_ones():
    assert {"classification", "segmentation"} <= set(TASKS)
    with pytest.raises(SpecError, match="'task.kind' is 'detection'; valid names: classification"):
        preflight(tiny_spec(task={"kind": "detection"}), "random")
    # a layout of a kind nobody registered: its spec is refused before any data is read
    register_dataset("boxes_for_test", kind="detection")(lambda root, opts: None)
    try:
        spec = tiny_spec(dataset={"name": "boxes_for_test"})
        with pytest.raises(SpecError, match="dataset 'boxes_for_test' is a detection dataset"):
            preflight(spec, "random")
    finally:
        DATASETS._entries.pop("boxes_for_test")
