"""Train and evaluate the task model on a labeled index set, with batches assembled on the device."""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from .batches import Batches
from .compiled import CompiledStep
from .device import autocast, device_index, grad_scaler
from .hostsync import LossMeter
from .passes import eval_mode, index_chunks
from .schedules import build_optimization
from .spec import RuntimeSpec, TaskSpec
from .tasks import Evaluation


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

    Returns (model, best validation metric (accuracy or mIoU) or None).
    """
    device = batches.device
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt, sched, total = build_optimization(params, task, len(labeled), batches.split_size("train"))
    scaler = grad_scaler(device, runtime.precision)
    labeled_t = torch.as_tensor(labeled, dtype=torch.long)
    # a batch of one breaks BatchNorm's training statistics; decided from the host-side batch
    # length (a shape, not a device value), so skipping it never waits for the device
    has_bn = any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())

    kind = batches.kind

    def loss_fn(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        with autocast(device, runtime.precision):
            return kind.loss(model(x), y)

    task_loss = CompiledStep(loss_fn, "task step", device, runtime.compile)
    meter = LossMeter(device)  # the training loss stays on the device between reads
    best_acc, best_state = None, None
    bar = tqdm(total=total, desc="train", leave=False, disable=not progress)
    step = 0
    while step < total:  # passes over the labeled set, reshuffled each time
        model.train()
        # drawn on the host by the seeded generator, sent to the device once per pass
        order = device_index(labeled_t[torch.randperm(len(labeled_t), generator=generator)], device)
        for start in range(0, len(order), task.batch_size):
            if step == total:
                break
            x, y = batches.train_batch(
                order[start : start + task.batch_size], task.augment, generator
            )
            step += 1
            bar.update()
            if not (has_bn and len(y) < 2):
                loss = task_loss(
                    x,
                    y,
                    before=lambda: opt.zero_grad(set_to_none=True),
                    then=lambda out: scaler.scale(out).backward(),
                )
                scaler.step(opt)
                scaler.update()
                sched.step()
                meter.add(loss=loss.detach())
            if step % runtime.log_every == 0 and (means := meter.read()):
                bar.set_postfix({k: f"{v:.3f}" for k, v in means.items()}, refresh=False)
        if val is not None and len(val):
            acc = evaluate(model, batches, task, runtime, idx=val, split="train")
            if best_acc is None or acc > best_acc:
                best_acc, best_state = acc, copy.deepcopy(model.state_dict())
    bar.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    return model, best_acc


@torch.inference_mode()
def predict_logits(
    model: nn.Module,
    batches: Batches,
    idx: np.ndarray,
    batch_size: int,
    runtime: RuntimeSpec,
    split: str = "train",
) -> torch.Tensor:
    """Logits of images `idx` of `split` in eval mode (BN running stats, no dropout), no augmentation.

    On the device: nothing here waits for it; a caller reads the logits when it needs them.
    """
    out = []
    with eval_mode(model):
        for chunk in index_chunks(idx, batch_size, batches.device):
            with autocast(batches.device, runtime.precision):
                out.append(model(batches.images(chunk, split)).float())
    return torch.cat(out) if out else torch.empty(0, device=batches.device)


def evaluate(
    model: nn.Module,
    batches: Batches,
    task: TaskSpec,
    runtime: RuntimeSpec,
    idx: np.ndarray | None = None,
    split: str = "test",
) -> float:
    """The task's metric (accuracy or mIoU) on images `idx` of `split` (all when idx is None)."""
    return evaluate_detailed(model, batches, task, runtime, idx, split).value


@torch.inference_mode()
def evaluate_detailed(
    model: nn.Module,
    batches: Batches,
    task: TaskSpec,
    runtime: RuntimeSpec,
    idx: np.ndarray | None = None,
    split: str = "test",
) -> Evaluation:
    """The metric with its name and per-class details; the task kind's meter accumulates it
    batch by batch (eval mode, no augmentation), so a segmentation set never sits in memory."""
    if idx is None:
        idx = np.arange(batches.split_size(split))
    meter = batches.kind.meter(batches, split)
    with eval_mode(model):
        for chunk in index_chunks(idx, task.eval_batch_size, batches.device):
            with autocast(batches.device, runtime.precision):
                logits = model(batches.images(chunk, split)).float()
            meter.update(logits, chunk)
    return meter.result()
