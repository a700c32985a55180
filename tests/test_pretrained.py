"""`task.pretrained`: the authors' ImageNet DRN-D-22 (fyu/drn's key layout) lands in our DRN."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from vaal_core.models import load_pretrained
from vaal_core.models.drn import DRNSeg

REPO = Path(__file__).resolve().parent.parent
CH = (16, 32, 64, 128, 256, 512, 512, 512)


def _bn(prefix: str, c: int) -> dict[str, tuple[int, ...]]:
    return {f"{prefix}.{k}": (c,) for k in ("weight", "bias", "running_mean", "running_var")} | {
        f"{prefix}.num_batches_tracked": ()
    }


def fyu_drn_d_22_shapes(num_classes: int = 1000) -> dict[str, tuple[int, ...]]:
    """The tensor names and shapes of fyu/drn's `drn_d_22()` state dict, written out from its
    structure (drn.py: DRN(BasicBlock, [1, 1, 2, 2, 2, 2, 1, 1], arch='D')), independently of
    our loader's mapping."""
    s = {"layer0.0.weight": (CH[0], 3, 7, 7), **_bn("layer0.1", CH[0])}
    s |= {"layer1.0.weight": (CH[0], CH[0], 3, 3), **_bn("layer1.1", CH[0])}
    s |= {"layer2.0.weight": (CH[1], CH[0], 3, 3), **_bn("layer2.1", CH[1])}
    cin = CH[1]
    for level in (3, 4, 5, 6):
        c = CH[level - 1]
        for b in (0, 1):
            p = f"layer{level}.{b}"
            s |= {f"{p}.conv1.weight": (c, cin if b == 0 else c, 3, 3), **_bn(f"{p}.bn1", c)}
            s |= {f"{p}.conv2.weight": (c, c, 3, 3), **_bn(f"{p}.bn2", c)}
        s |= {f"layer{level}.0.downsample.0.weight": (c, cin, 1, 1)}
        s |= _bn(f"layer{level}.0.downsample.1", c)
        cin = c
    s |= {"layer7.0.weight": (CH[6], CH[5], 3, 3), **_bn("layer7.1", CH[6])}
    s |= {"layer8.0.weight": (CH[7], CH[6], 3, 3), **_bn("layer8.1", CH[7])}
    return s | {"fc.weight": (num_classes, CH[7], 1, 1), "fc.bias": (num_classes,)}


def test_every_tensor_of_a_fyu_checkpoint_lands_and_the_classifier_stays_ours(tmp_path):
    shapes = fyu_drn_d_22_shapes()
    state = {k: torch.full(v, float(i + 1)) for i, (k, v) in enumerate(shapes.items())}
    state = {k: v.long() if k.endswith("num_batches_tracked") else v for k, v in state.items()}
    torch.save(state, tmp_path / "drn_d_22.pth")
    model = DRNSeg(3, 19)
    head = model.classifier.weight.detach().clone()
    filled = load_pretrained(model, "drn_d_22", str(tmp_path / "drn_d_22.pth"))
    ours = model.state_dict()
    # every trunk tensor received exactly its checkpoint value (each key had its own constant)
    assert (
        len(filled) == len(shapes) - 2 == len([k for k in ours if not k.startswith("classifier")])
    )
    values = {float(v.flatten()[0]) for k, v in ours.items() if not k.startswith("classifier")}
    assert values == {float(i + 1) for i, k in enumerate(shapes) if not k.startswith("fc.")}
    assert torch.equal(ours["stem.0.weight"], state["layer0.0.weight"])
    assert torch.equal(
        ours["level6.0.shortcut.1.running_var"], state["layer6.0.downsample.1.running_var"]
    )
    assert torch.equal(model.classifier.weight, head)  # the 19-class head is not ImageNet's fc


def test_a_checkpoint_of_another_network_is_refused_naming_the_tensor(tmp_path):
    shapes = fyu_drn_d_22_shapes()
    shapes["layer3.0.conv1.weight"] = (64, 16, 3, 3)  # not DRN-D-22's shape
    torch.save({k: torch.zeros(v) for k, v in shapes.items()}, tmp_path / "other.pth")
    with pytest.raises(ValueError, match="layer3.0.conv1.weight"):
        load_pretrained(DRNSeg(3, 19), "drn_d_22", str(tmp_path / "other.pth"))


@pytest.mark.parametrize(
    "spec, value, expected",
    [
        (
            "experiments/cityscapes.yaml",
            "nowhere/drn_d_22.pth",
            "dl.yf.io/drn/drn_d_22-4bd2f8ea.pth",
        ),
        ("experiments/mnist.yaml", "w.pth", "no pretrained loader; models that take one: drn_d_22"),
    ],
)
def test_a_bad_pretrained_setting_is_one_error_line_before_any_run(tmp_path, spec, value, expected):
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "vaal_core",
            "run",
            spec,
            "--strategy",
            "random",
            "--seed",
            "0",
            "--set",
            f"task.pretrained={value}",
            "--out",
            str(tmp_path / "res"),
            "--data-root",
            str(tmp_path / "data"),
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: spec key 'task.pretrained'")
    assert expected in lines[0]
    assert not (tmp_path / "res").exists()
