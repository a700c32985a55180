"""Task models by name. torchvision provides the paper's networks; small ones serve the demo."""

from __future__ import annotations

import inspect
from collections.abc import Callable

import torch
from torch import nn

# (in_channels, num_classes[, width]) -> model; a factory that takes `width` accepts
# `task.model_width` (a channel multiplier)
ModelFactory = Callable[..., nn.Module]
TASK_MODELS: dict[str, ModelFactory] = {}


def register_model(name: str) -> Callable[[ModelFactory], ModelFactory]:
    def deco(fn: ModelFactory) -> ModelFactory:
        TASK_MODELS[name] = fn
        return fn

    return deco


def takes_width(name: str) -> bool:
    return "width" in inspect.signature(TASK_MODELS[name]).parameters


def check_model_options(name: str, width: float = 1.0) -> None:
    """`task.model_width` only for models that take a width: a SpecError before any compute."""
    from .spec import SpecError

    if width != 1.0 and not takes_width(name):
        able = sorted(n for n in TASK_MODELS if takes_width(n))
        raise SpecError(
            f"spec key 'task.model_width' is {width}, but task model '{name}' has no width "
            f"option; models that take one: {', '.join(able)}"
        )


def build_task_model(
    name: str, in_channels: int, num_classes: int, width: float = 1.0
) -> nn.Module:
    if name not in TASK_MODELS:
        raise ValueError(
            f"unknown task model '{name}'; valid names: {', '.join(sorted(TASK_MODELS))}"
        )
    check_model_options(name, width)
    if takes_width(name):
        return TASK_MODELS[name](in_channels, num_classes, width=width)
    return TASK_MODELS[name](in_channels, num_classes)


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
    """DRN-D-22 for segmentation (Yu, Koltun & Funkhouser, CVPR 2017); see vaal_core/drn.py."""
    from .drn import DRNSeg

    return DRNSeg(in_channels, num_classes, width)
