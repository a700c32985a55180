"""Typed experiment specs, loaded from YAML and validated before any compute is spent.

A spec is the whole description of a run: the same bytes of spec give the same run whether it is
launched by make, by hand or on a cluster. Unknown keys and impossible values fail at load time
with a message naming the offending key.

- schema.py: the sections as frozen dataclasses, each field's default and hash rule;
- hashing.py: the one rule of what enters the spec hash;
- load.py: YAML, `base:`, `--set` overrides, protocol presets, coercion;
- validate.py: what cannot run, and the budget arithmetic.
"""

from ..errors import SpecError
from .load import PROTOCOL_SEPARATOR, apply_override, apply_protocol, load_spec, spec_from_dict
from .schema import (
    ActiveSpec,
    BaselinesSpec,
    DatasetSpec,
    ProtocolSpec,
    RuntimeSpec,
    Spec,
    TaskSpec,
    VAALSpec,
    option_key,
    spec_dict_hash,
)
from .validate import (
    check_pool_fits,
    initial_size,
    initial_train_size,
    labeled_offset,
    resolved_val_size,
    validate,
)

__all__ = [
    "PROTOCOL_SEPARATOR",
    "ActiveSpec",
    "BaselinesSpec",
    "DatasetSpec",
    "ProtocolSpec",
    "RuntimeSpec",
    "Spec",
    "SpecError",
    "TaskSpec",
    "VAALSpec",
    "apply_override",
    "apply_protocol",
    "check_pool_fits",
    "initial_size",
    "initial_train_size",
    "labeled_offset",
    "load_spec",
    "option_key",
    "resolved_val_size",
    "spec_dict_hash",
    "spec_from_dict",
    "validate",
]
