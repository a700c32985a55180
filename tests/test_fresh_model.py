"""Every task model of a run starts alike: the loop's and every strategy's own members are made
by `fresh_task_model` (pretrained weights, memory format) and trained by `train_for_spec`
(the spec's recipe and trainer quirks). A member that skipped the checkpoint or the memory
format would make the comparison unfair without a word; these tests see each model as it
enters training."""

from __future__ import annotations

import pytest
import torch

import vaal_core.train.trainer as trainer_mod
from tests.helpers import tiny_spec
from tests.test_pretrained import fyu_drn_d_22_shapes
from tests.test_segmentation import seg_root, seg_spec  # noqa: F401  (fixture)
from vaal_core.models import PRETRAINED, build_task_model
from vaal_core.run.loop import ActiveLoop
from vaal_core.spec import spec_from_dict


@pytest.fixture
def starts(monkeypatch):
    """(first weight tensor, channels_last?, quirks) of every model as it enters training."""
    seen = []
    real = trainer_mod.train_task_model

    def recording(model, batches, labeled, task, runtime, generator, *args, **kwargs):
        first = next(p for p in model.parameters() if p.dim() == 4)
        cl = first.is_contiguous(memory_format=torch.channels_last)
        quirks = args[2] if len(args) > 2 else kwargs.get("quirks")
        seen.append((first.detach().clone(), cl, quirks))
        return real(model, batches, labeled, task, runtime, generator, *args, **kwargs)

    monkeypatch.setattr(trainer_mod, "train_task_model", recording)
    return seen


def test_suggestive_members_start_from_the_pretrained_trunk_in_channels_last(
    seg_root,  # noqa: F811
    tmp_path,
    starts,
):
    shapes = fyu_drn_d_22_shapes()
    state = {k: torch.full(v, 0.5) for k, v in shapes.items()}
    torch.save(state, tmp_path / "drn_d_22.pth")
    d = seg_spec("cityscapes").to_dict()
    d["task"] |= {"model_width": 1.0, "pretrained": str(tmp_path / "drn_d_22.pth")}
    d["runtime"]["channels_last"] = True
    d["active"]["cycles"] = 2
    ActiveLoop(
        spec_from_dict(d), "suggestive_annotation", 0, tmp_path / "out", seg_root, progress=False
    ).run()
    # cycle 0: the task model, its 2 members; cycle 1: the task model
    assert len(starts) == 4
    for weight, channels_last, _ in starts:
        assert torch.all(weight == 0.5), "a model did not start from the checkpoint's trunk"
        assert channels_last, "a model was not in the run's memory format"


def _small_cnn_checkpoint(path):
    net = build_task_model("small_cnn", 1, 10)
    torch.save({k: torch.full_like(v, 0.25) for k, v in net.state_dict().items()}, path)


def test_ensemble_members_start_like_the_task_model_and_train_with_its_quirks(
    mnist, tmp_path, monkeypatch, starts
):
    # small_cnn has no published weights; a loader registered for the test stands in for one
    monkeypatch.setitem(
        PRETRAINED, "small_cnn", (lambda model, st: model.load_state_dict(st) or list(st), "")
    )
    _small_cnn_checkpoint(tmp_path / "small.pth")
    spec = tiny_spec(
        task={"pretrained": str(tmp_path / "small.pth")},
        runtime={"channels_last": True},
        active={"cycles": 2},
        baselines={"ensemble_size": 2},
        protocol={"quirks": ["drop_last"]},
    )
    ActiveLoop(spec, "ensemble_varr", 0, tmp_path / "out", progress=False, data=mnist).run()
    assert len(starts) == 4  # task model, 2 members, task model
    for weight, channels_last, quirks in starts:
        assert torch.all(weight == 0.25)
        assert channels_last
        assert quirks is not None and quirks.drop_last
