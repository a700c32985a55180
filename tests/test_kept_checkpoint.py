"""The kept checkpoint: of equally good validation scores the FIRST is kept, as the release does
(67263f3 solver.py:155-159 validates every 1,000 iterations and keeps the model when
`acc > best_acc`, so a later tie never replaces it)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from tests.helpers import tiny_spec
from vaal_core.train.batches import Batches
from vaal_core.train.trainer import evaluate, train_task_model


def _train(mnist, passes: int):
    # a learning rate so small that no prediction on the validation images changes: every
    # validation ties, while the weights still move a little at every step
    spec = tiny_spec(
        task={
            "iterations": None,
            "epochs": passes,
            "batch_size": 20,
            "lr": 1e-7,
            "momentum": 0.0,
            "schedule": "constant",  # the first pass is the same in both runs
        },
    )
    task = spec.task
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(32 * 32, 10))
    batches = Batches(mnist, torch.device("cpu"))
    val = np.arange(100, 120)
    model, stats = train_task_model(
        model,
        batches,
        np.arange(40),
        task,
        spec.runtime,
        torch.Generator().manual_seed(0),
        val=val,
        progress=False,
    )
    return model, stats, batches, val, task, spec.runtime


def test_a_tie_keeps_the_first_checkpoint(mnist):
    first, s1, batches, val, task, runtime = _train(mnist, passes=1)  # validated once: pass 1
    kept, s3, *_ = _train(mnist, passes=3)  # validated after passes 1, 2 and 3
    # the three validations tie (the same score after the first pass and at the end) ...
    assert s1.val_value == s3.val_value == evaluate(kept, batches, task, runtime, val, "train")
    # ... and the weights of the first pass are kept, not those of a later, equally good pass
    for a, b in zip(first.state_dict().values(), kept.state_dict().values(), strict=True):
        assert torch.equal(a, b)
