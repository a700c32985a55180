"""What enters a spec's hash, by one rule: each field declares how it is hashed.

A spec hash names what determines each cycle's results, so a run resumes only under the spec it
was started with. Every field is hashed as written unless its declaration says otherwise
(`hashed(...)` in schema.py):
- `OMIT_AT_DEFAULT`: a key added after runs were recorded is left out of spec.yaml and the hash
  while at its default, so the specs of those runs keep their bytes and their hash;
- `AS_DEFAULT`: a setting that decides how fast a cycle runs, never what it selects or records
  (runtime.num_threads), is hashed at its default, so a run resumes with another thread count;
- `EXCLUDED`: how far a run goes (active.cycles) and what a sweep runs by default (strategies,
  seeds) never enter the hash, so extending a run keeps it.
tests/test_spec_hash.py pins the key list of the default spec: a new key that is not declared
`OMIT_AT_DEFAULT` changes every pinned hash, and that test says so.

The keys strategies own (the `baselines:` section, and whole sections such as VAAL's `vaal:`)
are checked by the strategies, which the torch-free loader cannot import; the frozen tables below
give the keys that were spec fields before a strategy owned them the form the hash always gave
them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import Field, field
from enum import Enum
from typing import Any


class Hashed(Enum):
    AS_WRITTEN = "as_written"
    OMIT_AT_DEFAULT = "omit_at_default"
    AS_DEFAULT = "as_default"
    EXCLUDED = "excluded"


def hashed(rule: Hashed, default: Any) -> Any:
    """A field whose place in the hash is `rule` (see the module docstring)."""
    return field(default=default, metadata={"hashed": rule})


def rule_of(f: Field) -> Hashed:
    return f.metadata.get("hashed", Hashed.AS_WRITTEN)


def plain(obj: Any) -> Any:
    """YAML/JSON-plain form: tuples become lists, recursively."""
    if isinstance(obj, dict):
        return {k: plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    return obj


def digest(
    d: dict[str, Any], as_default: dict[str, Any], excluded: list[str], legacy: bool = False
) -> str:
    """The 12-hex sha1 of a spec dict with the rule applied: `excluded` keys dropped,
    `as_default` keys set to their default (`legacy`: as hashed before that rule existed)."""
    d = {k: dict(v) if isinstance(v, dict) else v for k, v in d.items()}
    for key in excluded:
        section, _, name = key.rpartition(".")
        (d.get(section, {}) if section else d).pop(name, None)
    for key, default in {} if legacy else as_default.items():
        section, name = key.split(".")
        if name in d.get(section, {}):
            d[section][name] = default
    return hashlib.sha1(json.dumps(d, sort_keys=True).encode()).hexdigest()[:12]


# strategy-owned keys that were BaselinesSpec fields before their strategy owned them, with the
# form the spec hash has always given them: (default, hashed). hashed=True: written at the default
# when the spec leaves them out; False (fields added after runs were recorded): left out while at
# the default. Values are typed as the field was (an int written for a float is 2.0, as before).
# So every spec keeps its bytes and its hash; keys a strategy adds later are written only when set.
# tests/test_strategy_options.py pins these to the strategies' own defaults. Never grows.
LEGACY_OWNED: dict[str, tuple[Any, bool]] = {
    "baselines.mc_samples": (25, True),
    "baselines.ensemble_size": (5, True),
    "baselines.chunk_size": (4096, True),
    "baselines.sa_ensemble_size": (4, False),
    "baselines.sa_candidates_factor": (2.0, False),
    "baselines.typiclust_max_clusters": (500, True),
    "baselines.typiclust_knn": (20, True),
    "baselines.typiclust_min_cluster_size": (5, True),
}


# the keys of whole sections that were dataclasses of the engine's schema before a strategy owned
# them (`vaal:`, VAAL's options, vaal_core/vaal/options.py), in the same form as LEGACY_OWNED:
# hashed=False for the fields declared OMIT_AT_DEFAULT. tests/test_vaal_options.py pins these to
# VAAL's own defaults. Never grows.
LEGACY_SECTIONS: dict[str, tuple[Any, bool]] = {
    "vaal.latent_dim": (32, True),
    "vaal.width": (128, True),
    "vaal.beta": (1.0, True),
    "vaal.adversary_param": (1.0, True),
    "vaal.num_vae_steps": (2, True),
    "vaal.num_adv_steps": (1, True),
    "vaal.lr_vae": (5e-4, True),
    "vaal.lr_disc": (5e-4, True),
    "vaal.batch_size": (128, True),
    "vaal.epochs": (1.0, True),
    "vaal.match_task_iterations": (False, True),
    "vaal.image_size": (32, True),
    "vaal.kl_reduction": ("sum", True),
    "vaal.game": ("adversarial", True),
    "vaal.diag_holdout": (256, True),
    "vaal.disc_hidden": (512, True),
    "vaal.disc_layers": (2, True),
    "vaal.reset_each_cycle": (True, True),
    "vaal.input_range": ("standardized", False),
    "vaal.init": ("suite", False),
    "vaal.lr_step_fraction": (None, False),
    "vaal.lr_gamma": (0.9, False),
}
# legacy keys typed `float | None` (a default of None does not say the field made floats)
LEGACY_FLOAT_OR_NONE = frozenset({"vaal.lr_step_fraction"})


def legacy_keys() -> dict[str, tuple[Any, bool]]:
    """Every key a strategy owns now that the engine's schema declared before: (default, hashed)."""
    return LEGACY_OWNED | LEGACY_SECTIONS


def legacy_typed(key: str, value: Any) -> Any:
    """An int written for a legacy float key is the float the field made of it."""
    default = legacy_keys().get(key, (None, False))[0]
    floats = isinstance(default, float) or key in LEGACY_FLOAT_OR_NONE
    if floats and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def at_legacy_default(key: str, value: Any) -> bool:
    """A legacy key written at its default: `to_dict` writes it anyway, or never did."""
    if key not in legacy_keys():
        return False
    default = legacy_keys()[key][0]
    return type(value) is type(default) and value == default
