"""Typed experiment specs, loaded from YAML and validated before any compute is spent.

A spec is the whole description of a run: the same bytes of spec give the same run whether it is
launched by make, by hand or on a cluster. Unknown keys and impossible values fail at load time
with a message naming the offending key.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from . import names
from .errors import SpecError  # noqa: F401  (re-exported: callers import it from here)
from .quirks import Quirks, check_quirks


@dataclass(frozen=True)
class DatasetSpec:
    name: str = "mnist"
    pool_size: int | None = None  # subsample the training set to this many images (None = all)
    pool_seed: int = 0  # the subsample is fixed per dataset, shared by every seed and strategy
    val_size: int = 0  # held-out validation images, disjoint from the pool
    # resize/pad target for the task model (None = native); segmentation: the training crop side
    image_size: int | None = None
    test_size: int | None = None  # evaluate on a fixed subsample of the test set (None = all of it)
    val_fraction: float | None = (
        None  # validation = this fraction of the training set (over val_size)
    )
    storage: str = (
        "auto"  # auto (memory for MNIST/CIFAR, disk cache for Caltech/ImageNet) | memory | cache
    )
    cache_dir: str | None = None  # default <data root>/cache
    # side of the cached squares (default image_size x 256/224); segmentation: the cached height
    # (the width keeps the dataset's aspect ratio)
    cache_resolution: int | None = None
    cache_rebuild: bool = False  # rebuild a cache built from other data instead of refusing it
    cache_workers: int | None = None  # decoding processes (default: all cores)
    download: bool = True  # CIFAR/MNIST only, when online; $VAAL_NO_DOWNLOAD=1 forbids it


@dataclass(frozen=True)
class TaskSpec:
    model: str = "small_cnn"
    # classification | segmentation (vaal_core/tasks/): the loss, the metric, the record's name
    kind: str = "classification"
    # channel multiplier for models that take one (drn_d_22); tests run a tiny network with it
    model_width: float = 1.0
    epochs: int = 10
    iterations: int | None = (
        None  # fixed optimiser steps per cycle (overrides epochs), as the original
    )
    batch_size: int = 128
    optimizer: str = "sgd"  # sgd | adam
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 5e-4
    lr_milestones: tuple[float, ...] = ()  # multistep: fractions of training where lr *= lr_gamma
    schedule: str = "multistep"  # constant | multistep | step | cosine (vaal_core/schedules.py)
    lr_gamma: float = 0.1
    lr_step_fraction: float | None = None  # step: lr *= lr_gamma every this fraction of training
    epoch_basis: str = "labeled"  # epochs over the labeled set, or the whole train set (release)
    augment: bool = False  # augment training batches, batched on the device
    # standard | light (per dataset) | flip | crop_flip | rrc_flip | seg_crop_flip | seg_flip
    augmentation: str = "standard"
    eval_batch_size: int = 1024
    # training health: a cycle whose model reaches less than this metric on its own labeled set
    # (or meets a non-finite loss) is flagged `fit_ok: false`; None: the task kind's default
    min_fit: float | None = None
    # a checkpoint of published weights the task model starts from every cycle (drn_d_22: the
    # authors' ImageNet DRN-D-22 in fyu/drn's layout); None: from scratch
    pretrained: str | None = None
    # validate every this many optimiser steps (after steps 1, 1+N, ...: the release's
    # `iter_count % 1000 == 0`, 67263f3 solver.py:155); None: once per pass over the labeled set
    val_every: int | None = None


@dataclass(frozen=True)
class ActiveSpec:
    initial: int = 1000  # labeled images before the first cycle
    budget: int = 1000  # images labeled per cycle
    cycles: int = 6  # trained-and-evaluated cycles; cycles-1 queries


@dataclass(frozen=True)
class VAALSpec:
    latent_dim: int = 32
    width: int = 128  # channels of the first VAE stage, doubled per stage (128-256-512-1024)
    beta: float = 1.0
    adversary_param: float = 1.0
    num_vae_steps: int = 2
    num_adv_steps: int = 1
    lr_vae: float = 5e-4
    lr_disc: float = 5e-4
    batch_size: int = 128
    epochs: float = 1.0  # iterations = epochs * pool size / batch_size
    match_task_iterations: bool = False  # as many iterations as the task model's cycle (originals)
    image_size: int = 32  # VAE input size, independent of the task model's
    kl_reduction: str = "sum"  # "sum" over batch and latent, as in the original code; or "mean"
    # "adversarial": the paper's min-max game; "fixed_vae" (ablation): train the VAE alone, then
    # the discriminator on its frozen encoder
    game: str = "adversarial"
    # diagnostics: up to this many labeled and unlabeled images (at most 10% of each) are kept out
    # of VAAL's training, to measure how well the discriminator tells them apart (0: in-sample)
    diag_holdout: int = 256
    disc_hidden: int = 512
    disc_layers: int = 2  # hidden layers of the discriminator MLP
    reset_each_cycle: bool = True
    # what the VAE sees, whatever the task model's normalisation: `standardized` (the dataset's
    # mean/std, as the task model), `unit` ([0, 1]: ToTensor, 395da2e main.py:19-23) or
    # `symmetric` ([-1, 1]: Normalize(0.5, 0.5), 67263f3 custom_datasets.py:17-23)
    input_range: str = "standardized"
    # `suite`: kaiming-normal on every VAE conv/linear, PyTorch's default in the discriminator;
    # `original`: model.py's weight_init (vaal_core/vaal.py `original_init`)
    init: str = "suite"
    # VAE and discriminator lr x lr_gamma every this fraction of the iterations (395da2e
    # solver.py:50-61: x0.9 every iterations // 25); None: constant (67263f3)
    lr_step_fraction: float | None = None
    lr_gamma: float = 0.9


@dataclass(frozen=True)
class BaselinesSpec:
    """The knobs of the strategies, each owned by its strategy (`Strategy.options_type`, a
    dataclass in the strategy's own module, e.g. baselines/typiclust.py): the loader keeps every
    key of this section as the spec wrote it, and the registered strategies check them at
    preflight (vaal_core/strategies.py `check_owned_options`), before any compute."""

    owned: tuple[tuple[str, Any], ...] = ()

    def options(self, options_type: type, prefix: str) -> Any:
        """The dataclass `options_type` from this section's keys (`option_key`), typed like every
        spec value; fields the spec leaves out keep the dataclass's defaults."""
        hints, given = typing.get_type_hints(options_type), dict(self.owned)
        kwargs = {}
        for f in dataclasses.fields(options_type):
            key = option_key(f, prefix)
            if key in given:
                kwargs[f.name] = _check_type(given[key], hints[f.name], f"baselines.{key}")
        return options_type(**kwargs)


def option_key(f: dataclasses.Field, prefix: str) -> str:
    """The `baselines` key of an option field: `<prefix><name>`, or the field's metadata `key`
    (a knob several strategies share, such as `mc_samples`, keeps one unprefixed key)."""
    return f.metadata.get("key", prefix + f.name)


@dataclass(frozen=True)
class ProtocolSpec:
    """Protocol-level choices; `name` may be a preset of vaal_core/protocols.py that fills defaults."""

    name: str = "standard"
    reset_task_each_cycle: bool = True  # re-initialise the task model every cycle
    # noisy-oracle ablation: this fraction of every newly labeled set gets a wrong label
    label_noise: float = 0.0
    # biased-initial-pool ablation: the initial set is drawn only from these class ids
    initial_classes: tuple[int, ...] = ()
    initial_size: str = "spec"  # spec: active.initial images; budget: active.budget (395da2e)
    val_counts_against_budget: bool = False  # validation labels are paid from the labeled budget
    # bugs of the original code switched back on by name (vaal_core/quirks.py); [] = none
    quirks: tuple[str, ...] = ()


@dataclass(frozen=True)
class RuntimeSpec:
    device: str = "auto"  # auto | cpu | cuda
    precision: str = "fp32"  # fp32 | bf16 | fp16 (fp16 only on CUDA)
    channels_last: bool = False
    compile: bool = False
    fused_optimizer: bool = (
        True  # one fused kernel per optimiser step (same maths as the per-tensor loop)
    )
    num_threads: int | None = None
    # steps between host reads of the losses (progress bar, records): every read drains a GPU's
    # queue, so the hot loop reads rarely; 50 steps is about a second of a GPU's VAAL iterations
    log_every: int = 50


@dataclass(frozen=True)
class Spec:
    experiment: str
    dataset: DatasetSpec = field(default_factory=DatasetSpec)
    task: TaskSpec = field(default_factory=TaskSpec)
    active: ActiveSpec = field(default_factory=ActiveSpec)
    vaal: VAALSpec = field(default_factory=VAALSpec)
    baselines: BaselinesSpec = field(default_factory=BaselinesSpec)
    protocol: ProtocolSpec = field(default_factory=ProtocolSpec)
    runtime: RuntimeSpec = field(default_factory=RuntimeSpec)
    strategies: tuple[str, ...] = ("random",)  # what `make demo`/sweeps run by default
    seeds: tuple[int, ...] = (0,)

    def to_dict(self) -> dict[str, Any]:
        d = _plain(dataclasses.asdict(self))
        baselines = d["baselines"]
        baselines.update(baselines.pop("owned"))  # strategy-owned keys sit in the section itself
        for key, (default, hashed) in _LEGACY_OWNED.items():
            if hashed:
                baselines.setdefault(key.split(".")[1], default)
        for key, default in _LATER_KEYS.items():  # at their default, keys added later are left
            section, name = key.split(".")  # out, so older specs keep their bytes and hash
            if d[section].get(name) == default:
                d[section].pop(name)
        return d

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=True)

    def hash(self) -> str:
        """Hash of what determines each cycle's results (`spec_dict_hash` of `to_dict()`)."""
        return spec_dict_hash(self.to_dict())

    @property
    def quirks(self) -> Quirks:
        """`protocol.quirks` as the typed value every effect site reads."""
        return Quirks.of(self.protocol.quirks)


# runtime settings that decide how fast a cycle runs, never what it selects or records: hashed at
# their default, so a run resumes with another thread count (a requeue onto a node of another
# size, a laptop run continued on a cluster). Every other runtime key stays in: precision, device,
# channels_last, compile and fused_optimizer change the numerics, and log_every sets the window of
# the VAAL loss means a record keeps (vaal.py). Kept at the default rather than dropped, so every
# spec that leaves them unset keeps its hash byte for byte.
_UNHASHED: dict[str, Any] = {"runtime.num_threads": None}


def spec_dict_hash(d: dict[str, Any], legacy: bool = False) -> str:
    """The spec hash of a `Spec.to_dict()` (or of the spec body a run's spec.yaml holds).

    Not the default strategy/seed lists, and not `active.cycles`: the number of cycles decides
    how far a run goes, never what any of its cycles computes, so extending a run keeps it.
    `legacy`: the hash as written before `_UNHASHED` existed (run directories of that time).
    """
    d = {k: dict(v) if isinstance(v, dict) else v for k, v in d.items()}
    d.pop("strategies", None)
    d.pop("seeds", None)
    d["active"].pop("cycles", None)
    for key, default in {} if legacy else _UNHASHED.items():
        section, name = key.split(".")
        if name in d.get(section, {}):
            d[section][name] = default
    return hashlib.sha1(json.dumps(d, sort_keys=True).encode()).hexdigest()[:12]


def _plain(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


# keys added after runs were recorded (segmentation): omitted from spec.yaml and the spec hash
# while at their default, so every classification run keeps its spec hash and records
_LATER_KEYS: dict[str, Any] = {
    "task.kind": "classification",
    "task.model_width": 1.0,
    "task.min_fit": None,
    "task.pretrained": None,
    # the bug-for-bug presets (issue 18)
    "task.val_every": None,
    "vaal.input_range": "standardized",
    "vaal.init": "suite",
    "vaal.lr_step_fraction": None,
    "vaal.lr_gamma": 0.9,
    "protocol.quirks": [],
}

# strategy-owned keys that were BaselinesSpec fields before their strategy owned them, with the
# form the spec hash has always given them: (default, hashed). hashed=True: written at the default
# when the spec leaves them out; False (fields added after runs were recorded): left out while at
# the default. Values are typed as the field was (an int written for a float is 2.0, as before).
# So every spec keeps its bytes and its hash; keys a strategy adds later are written only when set.
# tests/test_strategy_options.py pins these to the strategies' own defaults. Never grows.
_LEGACY_OWNED: dict[str, tuple[Any, bool]] = {
    "baselines.mc_samples": (25, True),
    "baselines.ensemble_size": (5, True),
    "baselines.chunk_size": (4096, True),
    "baselines.sa_ensemble_size": (4, False),
    "baselines.sa_candidates_factor": (2.0, False),
    "baselines.typiclust_max_clusters": (500, True),
    "baselines.typiclust_knn": (20, True),
    "baselines.typiclust_min_cluster_size": (5, True),
}

# sections whose unknown keys are kept (in the named field) for the registered plug-ins to check
_OPEN_FIELDS: dict[type, str] = {BaselinesSpec: "owned"}

# valid values per key; the names of the closed registries (optimisers, schedules, augmentations)
# come from the torch-free `names` module their registries check themselves against
_VALID = {
    "task.optimizer": set(names.OPTIMIZERS),
    "task.schedule": set(names.SCHEDULES),
    "task.epoch_basis": {"labeled", "train_set"},
    "task.augmentation": {
        *names.AUGMENTATION_PRESETS,
        *names.AUGMENTATIONS,
        *names.PAIR_AUGMENTATIONS,
    },
    "dataset.storage": {"auto", "memory", "cache"},
    "protocol.initial_size": {"spec", "budget"},
    "vaal.kl_reduction": {"sum", "mean"},
    "vaal.game": {"adversarial", "fixed_vae"},
    "vaal.input_range": {"standardized", "unit", "symmetric"},
    "vaal.init": {"suite", "original"},
    "runtime.device": {"auto", "cpu", "cuda"},
    "runtime.precision": {"fp32", "bf16", "fp16"},
}


def _check_type(value: Any, tp: Any, key: str) -> Any:
    """Coerce YAML scalars to the annotated type, or raise naming the key."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _check_type(value, inner[0], key)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise SpecError(f"spec key '{key}' must be a list, got {value!r}")
        (elem, _) = (
            typing.get_args(tp) if len(typing.get_args(tp)) == 2 else (typing.get_args(tp)[0], ...)
        )
        return tuple(_check_type(v, elem, f"{key}[{i}]") for i, v in enumerate(value))
    if tp is bool:
        if not isinstance(value, bool):
            raise SpecError(f"spec key '{key}' must be true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise SpecError(f"spec key '{key}' must be an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SpecError(f"spec key '{key}' must be a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise SpecError(f"spec key '{key}' must be a string, got {value!r}")
        return value
    raise TypeError(f"unsupported annotation {tp} for {key}")


def _build(cls: type, data: Any, prefix: str) -> Any:
    if not isinstance(data, dict):
        raise SpecError(f"spec section '{prefix or 'top level'}' must be a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    open_field = _OPEN_FIELDS.get(cls)
    names = {f.name for f in dataclasses.fields(cls)} - {open_field}
    unknown = sorted(set(data) - names)
    if open_field is not None:
        kept = [
            (k, _legacy_typed(f"{prefix}.{k}", _frozen(data[k], f"{prefix}.{k}"))) for k in unknown
        ]
        kept = [(k, v) for k, v in kept if not _at_legacy_default(f"{prefix}.{k}", v)]
        data, unknown = {k: v for k, v in data.items() if k in names}, []
        data[open_field] = tuple(kept)
        names.add(open_field)
    if unknown:
        where = f"'{prefix}'" if prefix else "the top level"
        raise SpecError(
            f"unknown spec key '{(prefix + '.') if prefix else ''}{unknown[0]}' in {where}; "
            f"valid keys: {', '.join(sorted(names))}"
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
            kwargs[name] = _check_type(data[name], tp, key)
            if key in _VALID and kwargs[name] not in _VALID[key]:
                raise SpecError(
                    f"spec key '{key}' is {kwargs[name]!r}; valid values: {sorted(_VALID[key])}"
                )
    return cls(**kwargs)


def _legacy_typed(key: str, value: Any) -> Any:
    """An int written for a legacy float key is the float the field made of it."""
    default = _LEGACY_OWNED.get(key, (None, False))[0]
    if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _at_legacy_default(key: str, value: Any) -> bool:
    """A legacy key written at its default: `to_dict` writes it anyway, or never did."""
    if key not in _LEGACY_OWNED:
        return False
    default = _LEGACY_OWNED[key][0]
    return type(value) is type(default) and value == default


def _frozen(value: Any, key: str) -> Any:
    """A YAML value kept for a plug-in to check: scalars, and lists of them as tuples."""
    if isinstance(value, (list, tuple)):
        return tuple(_frozen(v, f"{key}[{i}]") for i, v in enumerate(value))
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise SpecError(f"spec key '{key}' must be a value or a list of values, got {value!r}")


def _positive(value: float | int | None, key: str, allow_zero: bool = False) -> None:
    if value is None:
        return
    if value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise SpecError(f"spec key '{key}' must be {bound}, got {value}")


def validate(spec: Spec) -> Spec:
    """Checks of values that are individually well-typed but cannot run."""
    a, t, v, d = spec.active, spec.task, spec.vaal, spec.dataset
    _positive(a.initial, "active.initial")
    _positive(a.budget, "active.budget")
    _positive(a.cycles, "active.cycles")
    _positive(t.epochs, "task.epochs")
    _positive(t.iterations, "task.iterations")
    _positive(t.batch_size, "task.batch_size")
    _positive(t.lr, "task.lr")
    _positive(t.eval_batch_size, "task.eval_batch_size")
    _positive(t.model_width, "task.model_width")
    _positive(d.pool_size, "dataset.pool_size")
    _positive(d.val_size, "dataset.val_size", allow_zero=True)
    _positive(d.image_size, "dataset.image_size")
    _positive(d.test_size, "dataset.test_size")
    for k in ("latent_dim", "width", "num_vae_steps", "batch_size", "disc_hidden", "disc_layers"):
        _positive(getattr(v, k), f"vaal.{k}")
    _positive(v.num_adv_steps, "vaal.num_adv_steps", allow_zero=True)
    _positive(v.diag_holdout, "vaal.diag_holdout", allow_zero=True)
    _positive(spec.runtime.log_every, "runtime.log_every")
    _positive(t.val_every, "task.val_every")
    _positive(v.lr_gamma, "vaal.lr_gamma")
    if v.lr_step_fraction is not None and not 0 < v.lr_step_fraction <= 1:
        raise SpecError(
            f"spec key 'vaal.lr_step_fraction' must lie in (0, 1], got {v.lr_step_fraction}"
        )
    check_quirks(spec.protocol.quirks)
    _positive(v.epochs, "vaal.epochs")
    _positive(v.beta, "vaal.beta", allow_zero=True)
    _positive(v.adversary_param, "vaal.adversary_param", allow_zero=True)
    if v.image_size < 8 or v.image_size & (v.image_size - 1):
        raise SpecError(
            f"spec key 'vaal.image_size' must be a power of two >= 8, got {v.image_size}"
        )
    if not 0 <= spec.protocol.label_noise < 1:
        raise SpecError(
            f"spec key 'protocol.label_noise' must lie in [0, 1), got {spec.protocol.label_noise}"
        )
    for c in spec.protocol.initial_classes:
        if c < 0:
            raise SpecError(f"spec key 'protocol.initial_classes' holds {c}; class ids are >= 0")
    if t.schedule == "step" and not (t.lr_step_fraction and 0 < t.lr_step_fraction <= 1):
        raise SpecError(
            f"spec key 'task.lr_step_fraction' must lie in (0, 1] with task.schedule: step, "
            f"got {t.lr_step_fraction}"
        )
    _positive(t.lr_gamma, "task.lr_gamma")
    _positive(d.cache_resolution, "dataset.cache_resolution")
    if d.val_fraction is not None and not 0 <= d.val_fraction < 1:
        raise SpecError(f"spec key 'dataset.val_fraction' must lie in [0, 1), got {d.val_fraction}")
    if spec.protocol.val_counts_against_budget and d.val_size >= initial_size(spec):
        raise SpecError(
            f"spec key 'dataset.val_size' ({d.val_size}) must be smaller than the initial labeled "
            f"set ({initial_size(spec)}) when protocol.val_counts_against_budget is true"
        )
    for m in t.lr_milestones:
        if not 0 < m < 1:
            raise SpecError(f"spec key 'task.lr_milestones' holds {m}; each must lie in (0, 1)")
    if not spec.strategies:
        raise SpecError("spec key 'strategies' must list at least one strategy")
    if not spec.seeds:
        raise SpecError("spec key 'seeds' must list at least one seed")
    if not spec.experiment or "/" in spec.experiment:
        raise SpecError(
            f"spec key 'experiment' must be a non-empty name without '/', got {spec.experiment!r}"
        )
    if d.pool_size is not None:
        final = initial_size(spec) + a.budget * (a.cycles - 1)
        if initial_size(spec) > d.pool_size:
            raise SpecError(
                f"spec key 'active.initial' ({initial_size(spec)}) is larger than 'dataset.pool_size' ({d.pool_size})"
            )
        if final > d.pool_size:
            raise SpecError(
                f"spec keys 'active.budget'/'active.cycles' would label {final} images, more than "
                f"'dataset.pool_size' ({d.pool_size}); lower the budget or the number of cycles"
            )
    return spec


def initial_size(spec: Spec) -> int:
    """Images labeled before the first cycle, validation included when it counts (see below)."""
    return spec.active.budget if spec.protocol.initial_size == "budget" else spec.active.initial


def initial_train_size(spec: Spec, val_size: int) -> int:
    """Labeled images the task model trains on in cycle 0.

    With `protocol.val_counts_against_budget` the validation labels are paid from the initial
    budget (Munjal et al., CVPR 2022; Lüth et al., NeurIPS 2023), so fewer images are trained on
    and every record's n_labeled includes the validation set (`labeled_offset`).
    """
    return initial_size(spec) - (val_size if spec.protocol.val_counts_against_budget else 0)


def labeled_offset(spec: Spec, val_size: int) -> int:
    """What to add to the training-set size to report the labels paid for."""
    return val_size if spec.protocol.val_counts_against_budget else 0


def resolved_val_size(spec: Spec, n_train: int) -> int:
    d = spec.dataset
    return round(d.val_fraction * n_train) if d.val_fraction is not None else d.val_size


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
        raise SpecError(f"unknown protocol '{name}'; valid: standard, {', '.join(sorted(PRESETS))}")
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
    for item in overrides or []:
        apply_override(data, item)
    chosen = protocol if protocol is not None else _protocol_name(data)
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


def check_pool_fits(spec: Spec, available: int) -> None:
    """Budget checks that need the dataset's size (known only once it is located)."""
    a = spec.active
    final = initial_size(spec) + a.budget * (a.cycles - 1)
    if final > available:
        raise SpecError(
            f"spec asks for {final} labeled images (active.initial + active.budget * (cycles-1)) but "
            f"the pool of dataset '{spec.dataset.name}' holds only {available}"
        )
