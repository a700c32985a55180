"""Task models by name. torchvision provides the paper's networks; small ones serve the demo."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from ..registry import Registry

if TYPE_CHECKING:
    from ..spec import TaskSpec

# (in_channels, num_classes[, width]) -> model; a factory that takes `width` accepts
# `task.model_width` (a channel multiplier)
ModelFactory = Callable[..., nn.Module]
TASK_MODELS: Registry[ModelFactory] = Registry("task model", ValueError)


def register_model(name: str) -> Callable[[ModelFactory], ModelFactory]:
    return TASK_MODELS.register(name)


def takes_width(name: str) -> bool:
    return "width" in inspect.signature(TASK_MODELS[name]).parameters


def check_model_options(name: str, width: float = 1.0) -> None:
    """`task.model_width` only for models that take a width: a SpecError before any compute."""
    from ..spec import SpecError

    if width != 1.0 and not takes_width(name):
        able = sorted(n for n in TASK_MODELS if takes_width(n))
        raise SpecError(
            f"spec key 'task.model_width' is {width}, but task model '{name}' has no width "
            f"option; models that take one: {', '.join(able)}"
        )


# models that can start from published weights: name -> (loader(model, state dict), where the
# authors publish a checkpoint in the layout the loader reads)
PRETRAINED: dict[str, tuple[Callable[[nn.Module, dict], list[str]], str]] = {}


def check_pretrained(name: str, path: str | None) -> None:
    """`task.pretrained` names an existing checkpoint of a model that can load one: a SpecError
    naming the path and where to get the weights, before any compute."""
    from pathlib import Path

    from ..spec import SpecError

    if path is None:
        return
    if name not in PRETRAINED:
        raise SpecError(
            f"spec key 'task.pretrained' is set, but task model '{name}' has no pretrained "
            f"loader; models that take one: {', '.join(sorted(PRETRAINED))}"
        )
    if not Path(path).is_file():
        raise SpecError(
            f"spec key 'task.pretrained': no checkpoint at {Path(path).resolve()}; download the "
            f"authors' weights from {PRETRAINED[name][1]} to that path, or set "
            "task.pretrained=null to train from scratch"
        )


@functools.lru_cache(maxsize=2)
def _checkpoint(path: str) -> dict:
    """The checkpoint's tensors, read once per process (every cycle rebuilds the model)."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    return state.get("state_dict", state) if isinstance(state, dict) else state


def load_pretrained(model: nn.Module, name: str, path: str) -> list[str]:
    """Copy the checkpoint at `path` into `model`; returns the parameter names it filled."""
    loader, _ = PRETRAINED[name]
    return loader(model, _checkpoint(path))


def fresh_task_model(
    task: TaskSpec,
    in_channels: int,
    num_classes: int,
    device: torch.device | str | None = None,
    *,
    channels_last: bool = False,
    state: dict[str, Any] | None = None,
) -> nn.Module:
    """The one way a task model is made, for the loop and every strategy's own members: the
    spec's network (`task.model`, `task.model_width`), its published weights (`task.pretrained`),
    a warm start (`state`), the device and the memory format (`runtime.channels_last`).

    Initialisation draws from the global torch RNG: callers seed it first."""
    model = build_task_model(task.model, in_channels, num_classes, task.model_width)
    if task.pretrained:
        load_pretrained(model, task.model, task.pretrained)
    if state is not None:
        model.load_state_dict(state)
    if device is not None:  # None: where it was built (a caller's `torch.device` context)
        model = model.to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model


def build_task_model(
    name: str, in_channels: int, num_classes: int, width: float = 1.0
) -> nn.Module:
    """The bare network of a registered name (no weights loaded, on the CPU): for shape and cost
    counts; a model that trains comes from `fresh_task_model`."""
    factory = TASK_MODELS.get(name)
    check_model_options(name, width)
    if takes_width(name):
        return factory(in_channels, num_classes, width=width)
    return factory(in_channels, num_classes)


class _RepeatChannels(nn.Module):
    """Lets 3-channel torchvision networks take grey images."""

    def __init__(self, body: nn.Module):
        super().__init__()
        self.body = body

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x.expand(-1, 3, -1, -1))


def _rgb(model: nn.Module, in_channels: int) -> nn.Module:
    return model if in_channels == 3 else _RepeatChannels(model)


@register_model("small_cnn")
def small_cnn(in_channels: int, num_classes: int) -> nn.Module:
    """Three small conv blocks and a linear head: enough for MNIST, fast on two CPU cores."""
    return nn.Sequential(
        nn.Conv2d(in_channels, 16, 3, padding=1),
        nn.BatchNorm2d(16),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.BatchNorm2d(32),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 32, 3, padding=1),
        nn.BatchNorm2d(32),
        nn.ReLU(inplace=True),
        nn.AdaptiveMaxPool2d(4),
        nn.Flatten(),
        nn.Dropout(0.3),
        nn.Linear(32 * 16, num_classes),
    )


@register_model("vgg16_bn")
def vgg16_bn(in_channels: int, num_classes: int) -> nn.Module:
    """torchvision's VGG16-bn, unchanged, as the original code trained it (7x7 adaptive pool, 4096 head)."""
    from torchvision.models import vgg16_bn as tv_vgg16_bn

    return _rgb(tv_vgg16_bn(weights=None, num_classes=num_classes), in_channels)


# torchvision's ResNet18 has no dropout, so MC-dropout methods (Gal et al., ICML 2017) would have
# nothing to sample. We place one Dropout right before the final fully connected layer (on the
# 512-d globally pooled features), the usual choice for ResNets in deep Bayesian active learning.
# It is part of the model for every strategy, so all strategies train the same network.
RESNET18_HEAD_DROPOUT = 0.3


@register_model("resnet18")
def resnet18(in_channels: int, num_classes: int) -> nn.Module:
    """torchvision's ResNet18 with Dropout(RESNET18_HEAD_DROPOUT) before `fc` (see above)."""
    from torchvision.models import resnet18 as tv_resnet18

    model = tv_resnet18(weights=None, num_classes=num_classes)
    model.fc = nn.Sequential(nn.Dropout(RESNET18_HEAD_DROPOUT), model.fc)
    return _rgb(model, in_channels)


@register_model("drn_d_22")
def drn_d_22(in_channels: int, num_classes: int, width: float = 1.0) -> nn.Module:
    """DRN-D-22 for segmentation (Yu, Koltun & Funkhouser, CVPR 2017); see vaal_core/models/drn.py."""
    from .drn import DRNSeg

    return DRNSeg(in_channels, num_classes, width)


def _drn_d_22_from_fyu(model: nn.Module, state: dict) -> list[str]:
    from .drn import load_fyu_weights

    return load_fyu_weights(model, state)


PRETRAINED["drn_d_22"] = (_drn_d_22_from_fyu, "http://dl.yf.io/drn/drn_d_22-4bd2f8ea.pth")
