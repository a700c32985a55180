"""The task model's optimiser and learning-rate schedule, from `TaskSpec` alone.

One function so the protocols differ only in spec values:
- `paper` (sinhasam/vaal 395da2e): Adam 5e-4, lr x0.9 every 1/25 of 100,000 fixed iterations
  (`schedule: step`, `lr_step_fraction: 0.04`, `lr_gamma: 0.9`);
- `release` (67263f3): SGD 0.01, momentum 0.9, weight decay 5e-4, lr /10 every quarter of
  `N_train x 100 / 128` iterations (`epoch_basis: train_set`, `schedule: step`, 0.25, 0.1);
- `modern`: epochs over the labeled set with cosine decay (Loshchilov & Hutter, ICLR 2017).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from ..registry import Registry
from ..spec import TaskSpec, names


def total_iterations(task: TaskSpec, n_labeled: int, n_train: int) -> int:
    """Optimiser steps this cycle: fixed, or epochs of the labeled set, or of the training set.

    `train_set` is the release's count, `N_train x epochs // batch` whatever the labeled size
    (50,000 x 100 // 128 = 39,062 for CIFAR); `labeled` is ceil(n_labeled / batch) x epochs.
    """
    if task.iterations:
        return task.iterations
    if task.epoch_basis == "train_set":
        return max(1, n_train * task.epochs // task.batch_size)
    return max(1, -(-n_labeled // task.batch_size)) * task.epochs


# name -> (task spec, total steps) -> (step -> lr factor); `task.schedule` picks one
SCHEDULES: Registry[Callable[[TaskSpec, int], Callable[[int], float]]] = Registry(
    "task.schedule", ValueError, declared=names.SCHEDULES
)


@SCHEDULES.register("constant")
def _constant(task: TaskSpec, total: int):
    return lambda step: 1.0


@SCHEDULES.register("multistep")
def _multistep(task: TaskSpec, total: int):
    milestones = sorted({int(m * total) for m in task.lr_milestones})
    return lambda step: task.lr_gamma ** sum(step >= m for m in milestones)


@SCHEDULES.register("step")
def _step(task: TaskSpec, total: int):
    every = max(1, int(task.lr_step_fraction * total))  # the originals' `iterations // k`
    return lambda step: task.lr_gamma ** (step // every)


@SCHEDULES.register("cosine")
def _cosine(task: TaskSpec, total: int):
    return lambda step: 0.5 * (1 + math.cos(math.pi * min(step, total) / total))


SCHEDULES.check_declared()

# name -> (parameters, task spec) -> optimiser; `task.optimizer` picks one
OPTIMIZERS: Registry[Callable[..., torch.optim.Optimizer]] = Registry(
    "task.optimizer", ValueError, declared=names.OPTIMIZERS
)


@OPTIMIZERS.register("sgd")
def _sgd(params, task: TaskSpec) -> torch.optim.Optimizer:
    return torch.optim.SGD(
        params, lr=task.lr, momentum=task.momentum, weight_decay=task.weight_decay
    )


@OPTIMIZERS.register("adam")
def _adam(params, task: TaskSpec) -> torch.optim.Optimizer:
    return torch.optim.Adam(params, lr=task.lr, weight_decay=task.weight_decay)


OPTIMIZERS.check_declared()


def build_optimization(
    params, task: TaskSpec, n_labeled: int, n_train: int
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler, int]:
    """(optimiser, scheduler stepped once per optimiser step, total steps) for one cycle."""
    opt = OPTIMIZERS.get(task.optimizer)(params, task)
    total = total_iterations(task, n_labeled, n_train)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, SCHEDULES.get(task.schedule)(task, total))
    return opt, sched, total
