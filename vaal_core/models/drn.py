"""DRN-D-22 for semantic segmentation (Yu, Koltun & Funkhouser, "Dilated Residual Networks",
CVPR 2017), written from the paper's description and checked against the structure of the
authors' code (github.com/fyu/drn).

Eight levels, output stride 8:
- levels 1-2, the D-variant stem: a 7x7 conv (stride 1) then one 3x3 conv-BN-ReLU per level, the
  second with stride 2, in place of ResNet's strided 7x7 conv and max-pooling (max-pooling
  causes gridding artifacts, Sec. 4.1);
- levels 3-6: basic residual blocks [2, 2, 2, 2]; levels 3 and 4 downsample by 2 each (stride 8
  in all), levels 5 and 6 keep the resolution and dilate their 3x3 convs by 2 and 4 instead;
- levels 7-8, degridding: one conv-BN-ReLU each, dilation 2 then 1, WITHOUT residual
  connections (residuals would pass the gridding of level 6 straight through, Sec. 4.2).
Channels (16, 32, 64, 128, 256, 512, 512, 512) x `width`; blocks per level [1,1,2,2,2,2,1,1].
(Level numbers follow the paper and fyu/drn, where the stem conv belongs to level 1: dilation 2
is level 5 and dilation 4 level 6.)

Segmentation head: Dropout2d(DRN_HEAD_DROPOUT), a 1x1 classifier conv, bilinear upsampling of
the logits to the input size. The dropout exists for MC-dropout and query-by-committee
(Gal & Ghahramani, ICML 2016): it drops whole feature channels of the last map, right before
the classifier, so each stochastic pass is a different linear read-out of the same features and
the trunk runs once per image (`features` / `head`). It is part of the model for every strategy,
so all strategies train the same network.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

CHANNELS = (16, 32, 64, 128, 256, 512, 512, 512)
BLOCKS = (1, 1, 2, 2, 2, 2, 1, 1)
DRN_HEAD_DROPOUT = 0.2
OUTPUT_STRIDE = 8


def conv_bn_relu(cin: int, cout: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride, padding=dilation, dilation=dilation, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class BasicBlock(nn.Module):
    """Two 3x3 conv-BN with a residual (projected by a 1x1 conv when the shape changes)."""

    def __init__(self, cin: int, cout: int, stride: int = 1, dilation: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, dilation, dilation, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, dilation, dilation, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = None
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)), inplace=True)
        out = self.bn2(self.conv2(out))
        skip = x if self.shortcut is None else self.shortcut(x)
        return F.relu(out + skip, inplace=True)


def _level(cin: int, cout: int, blocks: int, stride: int, dilation: int) -> nn.Sequential:
    layers = [BasicBlock(cin, cout, stride, dilation)]
    layers += [BasicBlock(cout, cout, 1, dilation) for _ in range(blocks - 1)]
    return nn.Sequential(*layers)


class DRNSeg(nn.Module):
    """DRN-D-22 trunk + dropout + 1x1 classifier + bilinear upsampling to the input size."""

    def __init__(self, in_channels: int, num_classes: int, width: float = 1.0):
        super().__init__()
        c = [max(1, round(ch * width)) for ch in CHANNELS]
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, c[0], 7, 1, 3, bias=False),
            nn.BatchNorm2d(c[0]),
            nn.ReLU(inplace=True),
        )
        self.level1 = conv_bn_relu(c[0], c[0])
        self.level2 = conv_bn_relu(c[0], c[1], stride=2)
        self.level3 = _level(c[1], c[2], BLOCKS[2], stride=2, dilation=1)
        self.level4 = _level(c[2], c[3], BLOCKS[3], stride=2, dilation=1)
        self.level5 = _level(c[3], c[4], BLOCKS[4], stride=1, dilation=2)
        self.level6 = _level(c[4], c[5], BLOCKS[5], stride=1, dilation=4)
        self.level7 = conv_bn_relu(c[5], c[6], dilation=2)  # degridding, no residual
        self.level8 = conv_bn_relu(c[6], c[7], dilation=1)
        self.dropout = nn.Dropout2d(DRN_HEAD_DROPOUT)
        self.classifier = nn.Conv2d(c[7], num_classes, 1)
        self.feature_dim = c[7]
        for m in self.modules():
            if isinstance(m, nn.Conv2d):  # He initialisation (fan-out), as the authors'
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The last feature map (level 8), at 1/8 of the input resolution."""
        x = self.level2(self.level1(self.stem(x)))
        for level in (self.level3, self.level4, self.level5, self.level6, self.level7):
            x = level(x)
        return self.level8(x)

    def head(self, f: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """Logits at `size` from features: dropout, 1x1 classifier, bilinear upsampling."""
        logits = self.classifier(self.dropout(f))
        return F.interpolate(logits, size=size, mode="bilinear", align_corners=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x), tuple(x.shape[-2:]))


# ImageNet weights of DRN-D-22 as the authors publish them (github.com/fyu/drn, drn.py: `webroot`
# and `model_urls["drn-d-22"]`); fyu/drn's segment.py starts its segmentation models from them
FYU_DRN_D_22_URL = "http://dl.yf.io/drn/drn_d_22-4bd2f8ea.pth"


def fyu_key(key: str) -> str | None:
    """Our parameter name for a key of fyu/drn's DRN state dict; None for its ImageNet `fc`.

    fyu/drn names the stem `layer0`, the levels `layer1`..`layer8` and a block's projection
    `downsample`; the block's own names (conv1, bn1, conv2, bn2) and the Sequential indices of
    the conv-BN-ReLU levels are the same here.
    """
    head, _, rest = key.partition(".")
    if head == "fc":
        return None
    if head == "layer0":
        head = "stem"
    elif head.startswith("layer") and head[5:].isdigit():
        head = f"level{head[5:]}"
    else:
        raise KeyError(f"unexpected key {key!r} in a fyu/drn DRN-D-22 checkpoint")
    return f"{head}.{rest.replace('downsample.', 'shortcut.')}"


def load_fyu_weights(model: DRNSeg, state: dict[str, torch.Tensor]) -> list[str]:
    """Copy a fyu/drn DRN-D-22 (ImageNet) state dict into `model`'s trunk; the classifier stays
    freshly initialised. Returns our names that received a tensor (every trunk tensor)."""
    ours = model.state_dict()
    mapped = {}
    for key, value in state.items():
        name = fyu_key(key.removeprefix("module."))
        if name is None:
            continue
        if name not in ours or ours[name].shape != value.shape:
            raise ValueError(
                f"checkpoint tensor {key!r} {tuple(value.shape)} has no place in this DRN-D-22 "
                f"({name!r} {tuple(ours[name].shape) if name in ours else 'missing'}): "
                "is it DRN-D-22 at width 1 with 3 input channels?"
            )
        mapped[name] = value
    trunk = [k for k in ours if not k.startswith("classifier.")]
    missing = sorted(set(trunk) - set(mapped))
    if missing:
        raise ValueError(f"checkpoint lacks {len(missing)} DRN-D-22 tensors, e.g. {missing[:3]}")
    model.load_state_dict(mapped, strict=False)
    return sorted(mapped)
