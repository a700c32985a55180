"""The suite's strategies for a model, data and training loop of one's own.

    from vaal_core.api import get_strategy

    strategy = get_strategy("entropy")
    picked = strategy.select_from(model, unlabeled, labeled, budget=100, seed=0)

`picked` indexes `unlabeled`. The images go through the very code path of a run: one in-memory
dataset (labeled images first), a label pool, a `QueryContext`, and the strategy's `query`, which
checks the selection (exactly `budget` distinct unlabeled images). Same inputs, seed and cycle:
the same indices; the caller's global random state is left as it was.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .datasets import ImageData
from .errors import DatasetError, SpecError
from .registry import did_you_mean
from .run.pool import Pool
from .run.round import Round
from .spec import Spec, apply_override, load_spec, option_key, spec_from_dict
from .strategies import (
    STRATEGIES,
    ScoreKind,
    Strategy,
    check_budget,
    check_owned_options,
    make_strategy,
)
from .train.batches import Batches
from .words import count

# images, or images with labels: a torch Dataset of `image` or `(image, label, ...)` items, a
# tensor or array of images, or a pair (images, labels)
Images = Any


@dataclasses.dataclass
class SelectionStrategy:
    """One registered strategy, set up from a spec, asked for indices by `select_from`.

    It keeps the strategy object between calls, so a strategy that carries state from one
    cycle to the next (`vaal.reset_each_cycle: false`) carries it here too. `stats` holds what
    the last query reported (VAAL: its losses and how well the discriminator separated the sets).
    """

    strategy: Strategy
    spec: Spec
    stats: dict[str, Any] = dataclasses.field(default_factory=dict)
    # the last query's score of each returned index (None: the strategy has none) and its meaning
    scores: np.ndarray | None = None
    score: ScoreKind | None = None

    @property
    def name(self) -> str:
        return self.strategy.name

    def select_from(
        self,
        model: nn.Module,
        unlabeled: Images,
        labeled: Images,
        budget: int,
        *,
        seed: int = 0,
        cycle: int = 0,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        num_classes: int | None = None,
        device: str | torch.device | None = None,
        progress: bool = False,
    ) -> np.ndarray:
        """`budget` distinct indices into `unlabeled` (sorted int64), picked by the strategy.

        `model`: the trained task model (its last `nn.Linear` gives the embeddings). `labeled`
        must carry labels. The model sees `(x - mean) / std` of each image `x` as a float (uint8
        pixels divided by 255); by default `mean` 0 and `std` 1, i.e. the images as given.
        `seed`, `cycle`: the query's random stream (pass the round of your loop for fresh draws).
        `device`: where to compute (default: the model's).
        """
        where = torch.device(device) if device is not None else _model_device(model)
        data = in_memory_data(unlabeled, labeled, mean, std, num_classes)
        n_labeled = _length(labeled)
        fix = f"pass select_from a budget of at most len(unlabeled) = {_length(unlabeled)}"
        check_budget(budget, _length(unlabeled), name="select_from's budget", fix=fix)
        pool = Pool(np.arange(len(data.train_y)), np.arange(n_labeled))
        # a query through the API with the seed and cycle of a run draws the run's random numbers
        batches = Batches(data.to(where), where, augmentation="standard")
        with _own_random_state():
            selection = Round(self.spec, batches, seed, cycle, cycle, progress).query(
                self.strategy, pool, model, budget
            )
        self.stats = dict(selection.stats)
        self.scores, self.score = selection.scores, selection.score
        return (selection.indices - n_labeled).astype(np.int64)


def get_strategy(
    name: str,
    options: Mapping[str, Any] | None = None,
    spec: Spec | Mapping[str, Any] | str | Path | None = None,
    spec_overrides: Sequence[str] | Mapping[str, Any] = (),
) -> SelectionStrategy:
    """The registered strategy `name` (plug-ins' included), configured like a run.

    `options`: the strategy's own knobs by name, e.g. `{"mc_samples": 10}` (its
    `baselines.*` keys) or, for VAAL, `{"width": 8, "epochs": 0.5}` (its `vaal.*` keys).
    `spec`: a Spec, a spec mapping or a YAML path (default: the defaults of every section).
    `spec_overrides`: any other spec value, as `--set` strings (`"task.eval_batch_size=256"`)
    or a mapping of dotted keys. A mistyped name or key is a SpecError naming the valid ones.
    """
    STRATEGIES.get(name)  # an unknown name: one error listing the valid ones
    cls = STRATEGIES[name]
    data = _spec_data(spec)
    if isinstance(spec_overrides, Mapping):
        for key, value in spec_overrides.items():
            _put(data, key, value)
    else:
        for item in spec_overrides:
            apply_override(data, item)  # as --set: the value is parsed as YAML
    for key, value in (options or {}).items():
        _put(data, _option_key(cls, key), value)
    built = spec_from_dict(data)
    check_owned_options(built)  # every owned key belongs to a strategy and checks out
    return SelectionStrategy(make_strategy(name, built), built)


def _spec_data(spec: Spec | Mapping[str, Any] | str | Path | None) -> dict[str, Any]:
    if spec is None:
        return {"experiment": "api"}
    if isinstance(spec, Spec):
        return spec.to_dict()
    if isinstance(spec, Mapping):
        return {"experiment": "api", **_deep_copy(spec)}
    return load_spec(spec).to_dict()


def _deep_copy(d: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _deep_copy(v) if isinstance(v, Mapping) else v for k, v in d.items()}


def _put(data: dict[str, Any], key: str, value: Any) -> None:
    """Set the dotted spec key `key` (`vaal.width`) in a spec mapping."""
    *sections, last = key.split(".")
    for section in sections:
        data = data.setdefault(section, {})
        if not isinstance(data, dict):
            raise SpecError(f"spec key '{key}': '{section}' is not a section")
    data[last] = value


def _option_key(cls: type[Strategy], key: str) -> str:
    """The spec key of a strategy's knob: a field of its options, in the section they live in
    (`baselines.<prefix><name>`; VAAL: `vaal.<name>`), or a dotted spec key."""
    if "." in key:
        return key
    valid: dict[str, str] = {}
    if cls.options_type is not None:
        for f in dataclasses.fields(cls.options_type):
            full = option_key(f, cls.option_prefix)
            valid[f.name] = valid[full] = f"{cls.options_section}.{full}"
    if key not in valid:
        raise SpecError(
            f"strategy '{cls.name}' has no option '{key}'{did_you_mean(key, valid)}; its options: "
            f"{', '.join(sorted(valid)) or 'none'} (or any spec key as section.key)"
        )
    return valid[key]


# ---------------------------------------------------------------------------------------- data
def in_memory_data(
    unlabeled: Images,
    labeled: Images,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    num_classes: int | None = None,
) -> ImageData:
    """One `ImageData` whose training split is `labeled` then `unlabeled` (labels -1: unknown).

    Float images that are uint8 pixels / 255 (torchvision's ToTensor) are stored as those
    pixels; other floats as they are (times 255, which the normalisation divides out again).
    """
    lab_x, lab_y = _images_and_labels(labeled, "labeled", need_labels=True)
    unl_x, _ = _images_and_labels(unlabeled, "unlabeled", need_labels=False)
    if len(lab_x) and len(unl_x) and lab_x.shape[1:] != unl_x.shape[1:]:
        raise DatasetError(
            f"labeled images are {tuple(lab_x.shape[1:])} and unlabeled ones "
            f"{tuple(unl_x.shape[1:])}; give both at one shape (C, H, W)"
        )
    shape = (lab_x if len(lab_x) else unl_x).shape
    if shape[-1] != shape[-2]:
        raise DatasetError(
            f"images are {shape[-2]}x{shape[-1]}; the strategies read square images: resize or "
            "crop them to a square first"
        )
    x = _stored(torch.cat([lab_x, unl_x]))
    y = torch.cat([lab_y, torch.full((len(unl_x),), -1, dtype=torch.int64)])
    channels = x.shape[1]
    classes = num_classes if num_classes is not None else int(lab_y.max()) + 1 if len(lab_y) else 1
    return ImageData(
        name="api",
        train_x=x,
        train_y=y,
        test_x=x[:0],
        test_y=y[:0],
        num_classes=classes,
        mean=tuple(float(m) for m in (mean if mean is not None else [0.0] * channels)),
        std=tuple(float(s) for s in (std if std is not None else [1.0] * channels)),
    )


def _length(data: Images) -> int:
    return len(data[0]) if _is_pair(data) else len(data)


def _is_pair(data: Images) -> bool:
    return isinstance(data, tuple) and len(data) == 2 and _is_array(data[0])


def _images_and_labels(
    data: Images, what: str, need_labels: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """(images (N, C, H, W), labels (N,) int64 or empty) of a Dataset, tensor, array or pair."""
    labels = None
    if _is_pair(data):
        data, labels = data
    if _is_array(data):
        images = _as_tensor(data)
    else:
        items = [data[i] for i in range(len(data))]
        if items and isinstance(items[0], (tuple, list)):
            images = _stack([item[0] for item in items], what)
            if len(items[0]) > 1:
                labels = [int(item[1]) for item in items]
        else:
            images = _stack(items, what)
    if images.ndim == 3:  # (N, H, W): one channel
        images = images[:, None]
    if images.ndim != 4:
        raise DatasetError(
            f"{what} images have shape {tuple(images.shape)}; expected (N, C, H, W) or (N, H, W)"
        )
    if labels is None:
        if need_labels and len(images):
            raise DatasetError(
                f"{what} data carries no labels: give a Dataset of (image, label) items or a "
                "pair (images, labels)"
            )
        return images, torch.empty(0, dtype=torch.int64)
    y = torch.as_tensor(np.asarray(labels)).to(torch.int64).reshape(-1)
    if len(y) != len(images):
        raise DatasetError(
            f"{what} data has {count(len(images), 'image')} but {count(len(y), 'label')}"
        )
    return images, y


def _is_array(x: Any) -> bool:
    return isinstance(x, (torch.Tensor, np.ndarray))


def _as_tensor(x: Any) -> torch.Tensor:
    """A tensor of one image or many: PIL images and HWC arrays become CHW."""
    if not _is_array(x):  # a PIL image, or anything numpy reads as an array
        x = np.asarray(x)
        if x.ndim == 3:  # H, W, C
            x = x.transpose(2, 0, 1)
    return torch.as_tensor(np.ascontiguousarray(x) if isinstance(x, np.ndarray) else x).cpu()


def _stack(images: list[Any], what: str) -> torch.Tensor:
    tensors = [_as_tensor(img) for img in images]
    if not tensors:
        return torch.empty(0, 1, 1, 1, dtype=torch.uint8)
    try:
        return torch.stack(tensors)
    except RuntimeError as e:
        raise DatasetError(f"{what} images differ in shape ({e}); give them at one size") from e


def _stored(x: torch.Tensor) -> torch.Tensor:
    """uint8 as it is; floats that are exact uint8 / 255 back to uint8; other floats x 255."""
    if x.dtype == torch.uint8:
        return x
    scaled = x.float() * 255.0
    pixels = scaled.round()
    exact = len(x) == 0 or bool(
        ((scaled - pixels).abs() < 1e-3).all() and pixels.min() >= 0 and pixels.max() <= 255
    )
    return pixels.to(torch.uint8) if exact else scaled


def _model_device(model: nn.Module) -> torch.device:
    param = next(iter(model.parameters()), None)
    return param.device if param is not None else torch.device("cpu")


class _own_random_state:
    """The query seeds the global RNGs (as a run does); the caller gets its own state back."""

    def __enter__(self):
        self._python, self._numpy = random.getstate(), np.random.get_state()
        self._torch = torch.random.fork_rng(devices=_cuda_devices())
        self._torch.__enter__()

    def __exit__(self, *exc):
        self._torch.__exit__(*exc)
        random.setstate(self._python)
        np.random.set_state(self._numpy)
        return False


def _cuda_devices() -> list[int]:
    return list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
