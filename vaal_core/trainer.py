"""Train and evaluate the task model on a labeled index set, with batches assembled on the device."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from .augment import normalize, random_crop_flip
from .data import ImageData
from .device import autocast, grad_scaler
from .spec import RuntimeSpec, TaskSpec


@dataclass
class Batches:
    """Uint8 images (on the compute device) and the normalisation that turns them into inputs."""

    data: ImageData
    device: torch.device
    channels_last: bool = False

    def inputs(
        self, x_uint8: torch.Tensor, augment: bool = False, generator: torch.Generator | None = None
    ):
        x = x_uint8.to(self.device, non_blocking=True)
        if augment:
            x = random_crop_flip(x, generator)
        x = normalize(x, self.data.mean, self.data.std)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def train_batch(self, idx: torch.Tensor, augment: bool, generator: torch.Generator | None):
        return self.inputs(self.data.train_x[idx], augment, generator), self.data.train_y[idx].to(
            self.device
        )


def _iterations(n: int, batch: int) -> int:
    return max(1, -(-n // batch))


def train_task_model(
    model: nn.Module,
    batches: Batches,
    labeled: np.ndarray,
    task: TaskSpec,
    runtime: RuntimeSpec,
    generator: torch.Generator,
    val: np.ndarray | None = None,
    progress: bool = True,
) -> tuple[nn.Module, float | None]:
    """Train `model` on the labeled indices; with a validation split keep the best epoch.

    Returns (model, best validation accuracy or None).
    """
    device = batches.device
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    if task.optimizer == "sgd":
        opt = torch.optim.SGD(
            params, lr=task.lr, momentum=task.momentum, weight_decay=task.weight_decay
        )
    else:
        opt = torch.optim.Adam(params, lr=task.lr, weight_decay=task.weight_decay)
    per_epoch = _iterations(len(labeled), task.batch_size)
    total = task.iterations or per_epoch * task.epochs
    milestones = sorted({int(m * total) for m in task.lr_milestones})
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=milestones, gamma=0.1)
    scaler = grad_scaler(device, runtime.precision)
    labeled_t = torch.as_tensor(labeled, dtype=torch.long)
    best_acc, best_state = None, None
    bar = tqdm(total=total, desc="train", leave=False, disable=not progress)
    step = 0
    while step < total:  # passes over the labeled set, reshuffled each time
        model.train()
        order = labeled_t[torch.randperm(len(labeled_t), generator=generator)]
        for start in range(0, len(order), task.batch_size):
            if step == total:
                break
            x, y = batches.train_batch(
                order[start : start + task.batch_size], task.augment, generator
            )
            step += 1
            bar.update()
            if len(y) < 2 and any(
                isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()
            ):
                continue  # a batch of one breaks BatchNorm's training statistics
            with autocast(device, runtime.precision):
                loss = F.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            sched.step()
        if val is not None and len(val):
            acc = evaluate(
                model, batches, batches.data.train_x[val], batches.data.train_y[val], task, runtime
            )
            if best_acc is None or acc > best_acc:
                best_acc, best_state = acc, copy.deepcopy(model.state_dict())
    bar.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    return model, best_acc


@torch.inference_mode()
def predict_logits(
    model: nn.Module, batches: Batches, x_uint8: torch.Tensor, batch_size: int, runtime: RuntimeSpec
):
    """Logits in eval mode (BN running stats, no dropout), no augmentation."""
    was_training = model.training
    model.eval()
    out = []
    for start in range(0, len(x_uint8), batch_size):
        with autocast(batches.device, runtime.precision):
            out.append(model(batches.inputs(x_uint8[start : start + batch_size])).float())
    model.train(was_training)
    return torch.cat(out) if out else torch.empty(0)


def evaluate(
    model: nn.Module,
    batches: Batches,
    x: torch.Tensor,
    y: torch.Tensor,
    task: TaskSpec,
    runtime: RuntimeSpec,
) -> float:
    logits = predict_logits(model, batches, x, task.eval_batch_size, runtime)
    return (logits.argmax(1).cpu() == y.cpu()).float().mean().item()
