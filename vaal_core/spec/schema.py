"""The spec's schema: one frozen dataclass per section, each field with its default and, where it
is not hashed as written, its hash rule (hashing.py)."""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from typing import Any

import yaml

from .coerce import check_type
from .hashing import Hashed, digest, hashed, legacy_keys, plain, rule_of
from .quirks import Quirks


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
    # keys a dataset layout owns (`dataset.<key>`, e.g. imagefolder's skip_unreadable), kept as
    # written for the layout to check at preflight (vaal_core/datasets/base.py)
    owned: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class TaskSpec:
    model: str = "small_cnn"
    # classification | segmentation (vaal_core/tasks/): the loss, the metric, the record's name
    kind: str = hashed(Hashed.OMIT_AT_DEFAULT, "classification")
    # channel multiplier for models that take one (drn_d_22); tests run a tiny network with it
    model_width: float = hashed(Hashed.OMIT_AT_DEFAULT, 1.0)
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
    schedule: str = (
        "multistep"  # constant | multistep | step | cosine (vaal_core/train/schedules.py)
    )
    lr_gamma: float = 0.1
    lr_step_fraction: float | None = None  # step: lr *= lr_gamma every this fraction of training
    epoch_basis: str = "labeled"  # epochs over the labeled set, or the whole train set (release)
    augment: bool = False  # augment training batches, batched on the device
    # standard | light (per dataset) | flip | crop_flip | rrc_flip | seg_crop_flip | seg_flip
    augmentation: str = "standard"
    eval_batch_size: int = 1024
    # training health: a cycle whose model reaches less than this metric on its own labeled set
    # (or meets a non-finite loss) is flagged `fit_ok: false`; None: the task kind's default
    min_fit: float | None = hashed(Hashed.OMIT_AT_DEFAULT, None)
    # a checkpoint of published weights the task model starts from every cycle (drn_d_22: the
    # authors' ImageNet DRN-D-22 in fyu/drn's layout); None: from scratch
    pretrained: str | None = hashed(Hashed.OMIT_AT_DEFAULT, None)
    # validate every this many optimiser steps (after steps 1, 1+N, ...: the release's
    # `iter_count % 1000 == 0`, 67263f3 solver.py:155); None: once per pass over the labeled set
    val_every: int | None = hashed(Hashed.OMIT_AT_DEFAULT, None)
    # how long the top-line (strategy `full`, the whole pool in one cycle) trains: `same`: this
    # recipe as written (the originals' fixed iterations or train-set epochs); `passes`: as many
    # passes over the pool as the largest labeled set gets over itself (vaal_core/train/topline.py)
    topline: str = hashed(Hashed.OMIT_AT_DEFAULT, "same")


@dataclass(frozen=True)
class ActiveSpec:
    initial: int = 1000  # labeled images before the first cycle
    budget: int = 1000  # images labeled per cycle
    cycles: int = hashed(Hashed.EXCLUDED, 6)  # trained-and-evaluated cycles; cycles-1 queries


@dataclass(frozen=True)
class OwnedSection:
    """A section whose keys strategies own (`Strategy.options_type`, a dataclass in the
    strategy's own module, e.g. baselines/typiclust.py, vaal_core/vaal/options.py): the loader
    keeps every key as the spec wrote it, and the registered strategies check them at preflight
    (vaal_core/strategies/registry.py `check_owned_options`), before any compute."""

    owned: tuple[tuple[str, Any], ...] = ()

    def options(self, options_type: type, prefix: str = "", section: str = "baselines") -> Any:
        """The dataclass `options_type` from this section's keys (`option_key`), typed like every
        spec value; fields the spec leaves out keep the dataclass's defaults."""
        hints, given = typing.get_type_hints(options_type), dict(self.owned)
        kwargs = {}
        for f in dataclasses.fields(options_type):
            key = option_key(f, prefix)
            if key in given:
                kwargs[f.name] = check_type(given[key], hints[f.name], f"{section}.{key}")
        return options_type(**kwargs)


def option_key(f: dataclasses.Field, prefix: str) -> str:
    """The key of an option field in its section: `<prefix><name>`, or the field's metadata
    `key` (a knob several strategies share, such as `mc_samples`, keeps one unprefixed key)."""
    return f.metadata.get("key", prefix + f.name)


@dataclass(frozen=True)
class ProtocolSpec:
    """Protocol-level choices; `name` may be a preset of vaal_core/spec/protocols.py that fills defaults."""

    name: str = "standard"
    reset_task_each_cycle: bool = True  # re-initialise the task model every cycle
    # noisy-oracle ablation: this fraction of every newly labeled set gets a wrong label
    label_noise: float = 0.0
    # biased-initial-pool ablation: the initial set is drawn only from these class ids
    initial_classes: tuple[int, ...] = ()
    initial_size: str = "spec"  # spec: active.initial images; budget: active.budget (395da2e)
    val_counts_against_budget: bool = False  # validation labels are paid from the labeled budget
    # bugs of the original code switched back on by name (vaal_core/spec/quirks.py); [] = none
    quirks: tuple[str, ...] = hashed(Hashed.OMIT_AT_DEFAULT, ())


@dataclass(frozen=True)
class RuntimeSpec:
    device: str = "auto"  # auto | cpu | cuda
    precision: str = "fp32"  # fp32 | bf16 | fp16 (fp16 only on CUDA)
    channels_last: bool = False
    compile: bool = False
    fused_optimizer: bool = (
        True  # one fused kernel per optimiser step (same maths as the per-tensor loop)
    )
    num_threads: int | None = hashed(Hashed.AS_DEFAULT, None)
    # steps between host reads of the losses (progress bar, records): every read drains a GPU's
    # queue, so the hot loop reads rarely; 50 steps is about a second of a GPU's VAAL iterations
    log_every: int = 50


@dataclass(frozen=True)
class Spec:
    experiment: str
    dataset: DatasetSpec = field(default_factory=DatasetSpec)
    task: TaskSpec = field(default_factory=TaskSpec)
    active: ActiveSpec = field(default_factory=ActiveSpec)
    # the knobs of the plug-in strategies (`baselines.<prefix><field>`)
    baselines: OwnedSection = field(default_factory=OwnedSection)
    protocol: ProtocolSpec = field(default_factory=ProtocolSpec)
    runtime: RuntimeSpec = field(default_factory=RuntimeSpec)
    # what `make demo`/sweeps run by default
    strategies: tuple[str, ...] = hashed(Hashed.EXCLUDED, ("random",))
    seeds: tuple[int, ...] = hashed(Hashed.EXCLUDED, (0,))
    # the other top-level sections, each owned by the strategy that names it as its
    # `options_section` (VAAL: `vaal`), by name: the engine's schema names no strategy
    sections: tuple[tuple[str, OwnedSection], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The spec as spec.yaml writes it (hashing.py: which keys it leaves out)."""
        d = plain(dataclasses.asdict(self))
        d.update(d.pop("sections"))
        for section in d.values():  # owned keys sit in the section itself
            if isinstance(section, dict) and "owned" in section:
                section.update(section.pop("owned"))
        for key, (default, always) in legacy_keys().items():
            if always:
                section, name = key.split(".")
                d.setdefault(section, {}).setdefault(name, default)
        for key, default in keys_with(Hashed.OMIT_AT_DEFAULT).items():
            section, name = key.split(".")
            if name in d.get(section, {}) and d[section][name] == default:
                d[section].pop(name)
        return d

    def section(self, name: str) -> OwnedSection:
        """The strategy-owned section `name` as the spec wrote it (empty when it has none)."""
        if name == "baselines":
            return self.baselines
        return dict(self.sections).get(name, OwnedSection())

    def options(self, options_type: type, section: str = "baselines", prefix: str = "") -> Any:
        """A strategy's options (the dataclass `options_type`) from its section's keys."""
        return self.section(section).options(options_type, prefix, section)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=True)

    def hash(self) -> str:
        """Hash of what determines each cycle's results (`spec_dict_hash` of `to_dict()`)."""
        return spec_dict_hash(self.to_dict())

    @property
    def quirks(self) -> Quirks:
        """`protocol.quirks` as the typed value every effect site reads."""
        return Quirks.of(self.protocol.quirks)


def keys_with(rule: Hashed) -> dict[str, Any]:
    """`section.key` (or top-level `key`) -> plain default of every field declared with `rule`."""
    out = {}
    if rule is Hashed.OMIT_AT_DEFAULT:  # strategy-owned keys declared after runs were recorded
        out |= {key: default for key, (default, always) in legacy_keys().items() if not always}
    for top in dataclasses.fields(Spec):
        if rule_of(top) is rule:
            out[top.name] = plain(top.default)
        tp = typing.get_type_hints(Spec)[top.name]
        if dataclasses.is_dataclass(tp):
            for f in dataclasses.fields(tp):
                if rule_of(f) is rule:
                    out[f"{top.name}.{f.name}"] = plain(f.default)
    return out


def spec_dict_hash(d: dict[str, Any], legacy: bool = False) -> str:
    """The spec hash of a `Spec.to_dict()` (or of the spec body a run's spec.yaml holds).

    `legacy`: the hash as written before `AS_DEFAULT` existed (run directories of that time).
    """
    as_default = keys_with(Hashed.AS_DEFAULT)
    return digest(d, as_default, list(keys_with(Hashed.EXCLUDED)), legacy)
