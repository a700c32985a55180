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
from .compiled import CompiledStep
from .data import ImageData
from .device import autocast, device_index, grad_scaler
from .hostsync import LossMeter
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

    # The interface strategies and the trainer read images through: indices into a split, never
    # the storage behind them (in-memory tensors today, a disk cache for large datasets).
    @property
    def channels(self) -> int:
        return self.data.channels

    @property
    def num_classes(self) -> int:
        return self.data.num_classes

    def split_size(self, split: str = "train") -> int:
        return len(self._y(split))

    def _x(self, split: str) -> torch.Tensor:
        return self.data.train_x if split == "train" else self.data.test_x

    def _y(self, split: str) -> torch.Tensor:
        return self.data.train_y if split == "train" else self.data.test_y

    def images(
        self,
        idx,
        split: str = "train",
        augment: bool = False,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Normalised float images `idx` of `split` on the compute device."""
        x = self._x(split)
        return self.inputs(x[_on(idx, x.device)], augment, generator)

    def labels(self, idx, split: str = "train") -> torch.Tensor:
        y = self._y(split)
        return y[_on(idx, y.device)].to(self.device)

    def train_batch(self, idx: torch.Tensor, augment: bool, generator: torch.Generator | None):
        return self.images(idx, "train", augment, generator), self.labels(idx)


def _on(idx, device: torch.device) -> torch.Tensor:
    """Indices where the storage is: the hot loop hands device indices to device-resident data
    (no copy); host-resident storage with device indices costs a copy back."""
    idx = torch.as_tensor(idx)
    return idx if idx.device == device else idx.to(device)


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
    # a batch of one breaks BatchNorm's training statistics; decided from the host-side batch
    # length (a shape, not a device value), so skipping it never waits for the device
    has_bn = any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())

    def loss_fn(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        with autocast(device, runtime.precision):
            return F.cross_entropy(model(x), y)

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
    was_training = model.training
    model.eval()
    idx_t = device_index(torch.as_tensor(idx, dtype=torch.long), batches.device)
    out = []
    for start in range(0, len(idx_t), batch_size):
        with autocast(batches.device, runtime.precision):
            x = batches.images(idx_t[start : start + batch_size], split)
            out.append(model(x).float())
    model.train(was_training)
    return torch.cat(out) if out else torch.empty(0, device=batches.device)


def evaluate(
    model: nn.Module,
    batches: Batches,
    task: TaskSpec,
    runtime: RuntimeSpec,
    idx: np.ndarray | None = None,
    split: str = "test",
) -> float:
    """Accuracy on images `idx` of `split` (all of the split when idx is None)."""
    if idx is None:
        idx = np.arange(batches.split_size(split))
    logits = predict_logits(model, batches, idx, task.eval_batch_size, runtime, split)
    hits = logits.argmax(1) == batches.labels(idx, split)
    return hits.float().mean().item()  # the evaluation's one host read
