"""How long the top-line trains: the whole pool (strategy `full`) under `task.topline`.

A top-line trained for the fixed steps of the labeled runs sees the whole pool a few times while
the largest labeled set is seen many times; the demo's (300 steps of 64: two passes over 10,000
images, nineteen over 1,000 labels) lay below MC-Dropout at 1,000 labels. `passes` gives the
whole pool the passes the largest labeled set gets over itself; `same` keeps the recipe as
written (what both original code versions would do: fixed iterations, or epochs of the train set,
docs/protocols.md "The top-line"). The spec itself is not changed (its hash names the experiment
every strategy shares); only the task recipe handed to the trainer is.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable
from typing import Any

from ..spec import Spec, TaskSpec
from ..spec.validate import initial_train_size
from .schedules import total_iterations


def largest_labeled(spec: Spec, n_val: int, n_pool: int) -> int:
    """Images the last cycle of an active run trains on: the initial set plus every query."""
    a = spec.active
    return min(n_pool, initial_train_size(spec, n_val) + (a.cycles - 1) * a.budget)


def topline_task(spec: Spec, n_pool: int, n_val: int, n_train: int) -> TaskSpec:
    """The task recipe the whole-pool run trains with (`spec` as written, cycles included)."""
    task = spec.task
    if task.topline == "same" or (not task.iterations and task.epoch_basis == "labeled"):
        return task  # epochs over the labeled set already give every set the same passes
    largest = largest_labeled(spec, n_val, n_pool)
    steps = total_iterations(task, largest, n_train)  # what the largest labeled set gets
    return dataclasses.replace(task, iterations=max(1, math.ceil(steps * n_pool / largest)))


def topline_steps(spec: Spec, n_pool: int, n_val: int, n_train: int) -> int:
    """Optimiser steps of the top-line run (for the report)."""
    return total_iterations(topline_task(spec, n_pool, n_val, n_train), n_pool, n_train)


def topline_trainer(spec: Spec, train_fn: Callable[..., Any]) -> Callable[..., Any]:
    """`train_fn` training the whole pool for `task.topline`'s length; `train_fn` itself under
    `same`. `spec` is the run's spec before its cycles are cut to one."""
    if spec.task.topline == "same":
        return train_fn

    @functools.wraps(train_fn)
    def train(model, batches, labeled, run_spec: Spec, generator, val=None, progress=True):
        n_val = 0 if val is None else len(val)
        task = topline_task(spec, len(labeled), n_val, batches.split_size("train"))
        run_spec = dataclasses.replace(run_spec, task=task)
        return train_fn(model, batches, labeled, run_spec, generator, val=val, progress=progress)

    return train
