"""Inference passes leave every model in the mode they found it, also when a pass fails midway."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from torch import nn

from tests.helpers import tiny_spec
from vaal_core.models import build_task_model
from vaal_core.tasks.classification import logits_and_embeddings
from vaal_core.train.batches import Batches
from vaal_core.train.passes import eval_mode, index_chunks, predict_logits
from vaal_core.train.trainer import evaluate_detailed


class FailsOnSecondBatch(nn.Module):
    """The real small CNN, whose second forward raises (a device error mid-pass, say)."""

    def __init__(self):
        super().__init__()
        self.net = build_task_model("small_cnn", 1, 10)
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        if self.calls == 2:
            raise RuntimeError("second batch failed")
        return self.net(x)


def test_eval_mode_restores_each_models_own_mode_after_an_error():
    a, b = nn.BatchNorm1d(3), nn.BatchNorm1d(3).eval()
    with pytest.raises(ValueError), eval_mode(a, b):
        assert not a.training and not b.training
        raise ValueError
    assert a.training and not b.training


def test_index_chunks_cover_the_indices_in_order():
    chunks = list(index_chunks(np.array([5, 3, 9, 1, 7]), 2, torch.device("cpu")))
    assert [c.tolist() for c in chunks] == [[5, 3], [9, 1], [7]]
    assert all(c.dtype == torch.long for c in chunks)
    assert list(index_chunks([], 4)) == []


@pytest.mark.parametrize("which", ["predict_logits", "evaluate", "logits_and_embeddings"])
def test_a_failed_pass_leaves_the_model_training(which, mnist):
    spec = tiny_spec()
    batches = Batches(mnist, torch.device("cpu"))
    model = FailsOnSecondBatch().train()
    idx = np.arange(8)
    with pytest.raises(RuntimeError, match="second batch"):
        if which == "predict_logits":
            predict_logits(model, batches, idx, 4, spec.runtime)
        elif which == "evaluate":
            task = dataclasses.replace(spec.task, eval_batch_size=4)
            evaluate_detailed(model, batches, task, spec.runtime, idx, "train")
        else:
            logits_and_embeddings(model, batches, idx, 4, spec.runtime)
    assert model.training and all(m.training for m in model.modules())
