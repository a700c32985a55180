"""From YAML to a validated Spec: `base:` inheritance, `--set` overrides, protocol presets,
coercion of every value to its field's type; one SpecError naming the key otherwise."""

from __future__ import annotations

import copy
import dataclasses
import typing
from pathlib import Path
from typing import Any

import yaml

from ..errors import SpecError
from ..registry import did_you_mean
from . import names
from .coerce import check_type, frozen
from .hashing import at_legacy_default, legacy_typed
from .protocols import force_preset_values
from .schema import DatasetSpec, OwnedSection, Spec
from .validate import validate

# sections whose unknown keys are kept (in the named field) for the registered plug-ins to check;
# the top level keeps its unknown sections (`vaal:`) in `sections`, for the strategy that owns
# each to check at preflight (vaal_core/strategies/registry.py `check_owned_options`)
_OPEN_FIELDS: dict[type, str] = {
    OwnedSection: "owned",
    DatasetSpec: "owned",
    Spec: "sections",
}

# valid values per key; the names of the closed registries (optimisers, schedules, augmentations)
# come from the torch-free `names` module their registries check themselves against
_VALID = {
    "task.optimizer": set(names.OPTIMIZERS),
    "task.schedule": set(names.SCHEDULES),
    "task.epoch_basis": {"labeled", "train_set"},
    "task.topline": {"same", "passes"},
    "task.augmentation": {
        *names.AUGMENTATION_PRESETS,
        *names.AUGMENTATIONS,
        *names.PAIR_AUGMENTATIONS,
    },
    "dataset.storage": {"auto", "memory", "cache"},
    "protocol.initial_size": {"spec", "budget"},
    "runtime.device": {"auto", "cpu", "cuda"},
    "runtime.precision": {"fp32", "bf16", "fp16"},
}


def _build(cls: type, data: Any, prefix: str) -> Any:
    if not isinstance(data, dict):
        raise SpecError(f"spec section '{prefix or 'top level'}' must be a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    open_field = _OPEN_FIELDS.get(cls)
    names = {f.name for f in dataclasses.fields(cls)} - {open_field}
    unknown = sorted(set(data) - names)
    if cls is Spec:  # top-level mappings the schema lacks: sections strategies own (`vaal:`)
        owned = [k for k in unknown if isinstance(data[k], dict)]
        built = [(k, _build(OwnedSection, data[k], k)) for k in owned]
        kept_sections = tuple((k, v) for k, v in built if v.owned)  # empty: as if left out
        unknown = [k for k in unknown if k not in owned]
        data = {k: v for k, v in data.items() if k not in owned} | {open_field: kept_sections}
        names.add(open_field)
    elif open_field is not None:
        kept = [
            (k, legacy_typed(f"{prefix}.{k}", frozen(data[k], f"{prefix}.{k}"))) for k in unknown
        ]
        kept = [(k, v) for k, v in kept if not at_legacy_default(f"{prefix}.{k}", v)]
        data, unknown = {k: v for k, v in data.items() if k in names}, []
        data[open_field] = tuple(kept)
        names.add(open_field)
    if unknown:
        where = f"'{prefix}'" if prefix else "the top level"
        dotted = f"{prefix}." if prefix else ""
        valid = sorted(names - {open_field})
        hint = did_you_mean(dotted + unknown[0], [dotted + n for n in valid])
        raise SpecError(
            f"unknown spec key '{dotted}{unknown[0]}' in {where}{hint}; "
            f"valid keys: {', '.join(valid)}"
        )
    kwargs = {}
    for name in names:
        key = f"{prefix}.{name}" if prefix else name
        if name not in data:
            f = next(f for f in dataclasses.fields(cls) if f.name == name)
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise SpecError(f"spec key '{key}' is required")
            continue
        tp = hints[name]
        if name == open_field:
            kwargs[name] = data[name]
        elif dataclasses.is_dataclass(tp):
            kwargs[name] = _build(tp, data[name], key)
        else:
            kwargs[name] = check_type(data[name], tp, key)
            if key in _VALID and kwargs[name] not in _VALID[key]:
                raise SpecError(
                    f"spec key '{key}' is {kwargs[name]!r}; valid values: {sorted(_VALID[key])}"
                )
    return cls(**kwargs)


def apply_protocol(data: dict[str, Any], protocol: str | None = None) -> dict[str, Any]:
    """Fill the defaults of the named protocol preset under the spec's own values.

    `protocol:` may be a name or a mapping with `name`; `protocol` (the --protocol flag) wins over
    the spec's name. Every value the spec sets explicitly (and every --set override) wins over
    the preset. Unknown names list the valid ones.
    """
    from .protocols import PRESETS

    data = dict(data)
    proto = data.get("protocol")
    if isinstance(proto, str):
        proto = {"name": proto}
    proto = dict(proto or {})
    if protocol is not None:
        proto["name"] = protocol
    name = proto.get("name", "standard")
    if name != "standard" and name not in PRESETS:
        raise SpecError(
            f"unknown protocol '{name}'{did_you_mean(str(name), ['standard', *PRESETS])}; "
            f"valid: standard, {', '.join(sorted(PRESETS))}"
        )
    if proto:
        data["protocol"] = proto
    if name in PRESETS:
        data = _merge(PRESETS[name], data)
    return data


def _merge(defaults: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    out = dict(defaults)
    for k, v in data.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


def spec_from_dict(data: dict[str, Any], protocol: str | None = None) -> Spec:
    return validate(_build(Spec, apply_protocol(data, protocol), ""))


def load_spec(
    path: str | Path, overrides: list[str] | None = None, protocol: str | None = None
) -> Spec:
    """Load a YAML spec; `overrides` are 'section.key=value' strings parsed as YAML scalars.

    `protocol` names a preset (paper, release, modern) applied under the spec's own values.
    When it (or a `protocol.name` override) differs from the file's own protocol, the experiment
    becomes `<experiment>@<protocol>`, so its runs get their own directory and never collide with
    the file's; loading a file as it is keeps its name, its directory and its spec hash.
    """
    data = _read_yaml(Path(path), seen=())
    if isinstance(data.get("protocol"), str):
        data["protocol"] = {"name": data["protocol"]}
    own = _protocol_name(data)
    probe = copy.deepcopy(data)  # which protocol the overrides choose, before they go on
    for item in overrides or []:
        apply_override(probe, item)
    chosen = protocol if protocol is not None else _protocol_name(probe)
    # values a preset forces over the file's own (the -exact presets' fp32): under the overrides
    data = force_preset_values(data, chosen)
    for item in overrides or []:
        apply_override(data, item)
    if chosen != own and isinstance(data.get("experiment"), str):
        # runs under another protocol than the file's get their own results directory
        data["experiment"] = f"{data['experiment']}{PROTOCOL_SEPARATOR}{chosen}"
    return spec_from_dict(data, protocol)


# `cifar100@release`: experiment cifar100 run under --protocol release (the file says paper)
PROTOCOL_SEPARATOR = "@"


def _protocol_name(data: dict[str, Any]) -> str:
    """The protocol preset a raw spec mapping names ('standard' when none)."""
    proto = data.get("protocol")
    if isinstance(proto, dict):
        return str(proto.get("name", "standard"))
    return "standard" if proto is None else str(proto)


def _read_yaml(path: Path, seen: tuple[Path, ...]) -> dict[str, Any]:
    """A spec file as a dict; `base: other.yaml` (relative to this file) is merged underneath.

    Ablation specs name their parent experiment this way and state only what they change.
    """
    if not path.is_file():
        raise SpecError(f"spec file {path} does not exist; the shipped specs are in experiments/")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise SpecError(f"spec file {path} is not valid YAML: {e}") from e
    if not isinstance(data, dict):
        raise SpecError(
            f"spec file {path} must hold a mapping of sections, got {type(data).__name__}"
        )
    if isinstance(data.get("protocol"), str):
        data["protocol"] = {"name": data["protocol"]}
    base = data.pop("base", None)
    if base is None:
        return data
    base_path = (path.parent / str(base)).resolve()
    if base_path in seen:
        raise SpecError(f"spec file {path}: 'base' chain loops back to {base_path}")
    return _merge(_read_yaml(base_path, (*seen, path.resolve())), data)


def apply_override(data: dict[str, Any], item: str) -> None:
    if "=" not in item:
        raise SpecError(f"override {item!r} must look like section.key=value")
    key, raw = item.split("=", 1)
    node = data
    parts = key.split(".")
    for p in parts[:-1]:
        node = node.setdefault(p, {})
        if not isinstance(node, dict):
            raise SpecError(f"override {item!r}: '{p}' is not a section")
    node[parts[-1]] = yaml.safe_load(raw)
