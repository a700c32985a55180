"""Typed experiment specs, loaded from YAML and validated before any compute is spent.

A spec is the whole description of a run: the same bytes of spec give the same run whether it is
launched by make, by hand or on a cluster. Unknown keys and impossible values fail at load time
(the keys strategies own: at preflight, by their strategy) with a message naming the key.

- schema.py: the engine's sections as frozen dataclasses, each field's default and hash rule,
  and the sections strategies own (`baselines:`, `vaal:`) kept as written;
- hashing.py: the one rule of what enters the spec hash;
- load.py: YAML, `base:`, `--set` overrides, protocol presets, coercion;
- validate.py: what cannot run, and the budget arithmetic.
"""

from ..errors import SpecError
from .load import PROTOCOL_SEPARATOR, apply_override, apply_protocol, load_spec, spec_from_dict
from .schema import (
    ActiveSpec,
    DatasetSpec,
    OwnedSection,
    ProtocolSpec,
    RuntimeSpec,
    Spec,
    TaskSpec,
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
    "DatasetSpec",
    "OwnedSection",
    "ProtocolSpec",
    "RuntimeSpec",
    "Spec",
    "SpecError",
    "TaskSpec",
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
