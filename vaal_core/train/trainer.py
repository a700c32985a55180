"""Train and evaluate the task model on a labeled index set, with batches assembled on the device."""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from ..run import tensorboard
from ..spec import RuntimeSpec, Spec, TaskSpec
from ..spec.quirks import NO_QUIRKS, Quirks, batch_starts
from ..tasks import Evaluation, TaskKind
from .batches import Batches
from .compiled import CompiledStep
from .device import autocast, device_index, grad_scaler
from .hostsync import LossMeter, read_counter
from .passes import eval_mode, index_chunks
from .schedules import build_optimization


@dataclass
class TrainStats:
    """How the task model's training went, for the cycle record (see README, "Training health").

    `train_loss`: mean loss over the last reading window (the last `runtime.log_every` steps or
    fewer), None when no step ran. `nonfinite_losses`: steps whose loss was NaN/inf; their
    gradient was dropped (set to zero) instead of applied. `val_value`: the kept checkpoint's
    validation metric when a validation split is used, else None.
    """

    val_value: float | None = None
    train_loss: float | None = None
    nonfinite_losses: int = 0
    steps: int = 0


def _drop_nonfinite_gradient(params: list[torch.Tensor], finite: torch.Tensor) -> None:
    """Zero every gradient when the loss was not finite, decided on the device (no host read)."""
    bad = ~finite
    for p in params:
        if p.grad is not None:
            p.grad.masked_fill_(bad, 0.0)


def train_for_spec(
    model: nn.Module,
    batches: Batches,
    labeled: np.ndarray,
    spec: Spec,
    generator: torch.Generator,
    val: np.ndarray | None = None,
    progress: bool = True,
) -> tuple[nn.Module, TrainStats]:
    """The one training call of a run's task models (the loop's and every strategy's members):
    the spec's recipe, runtime and trainer quirks. The distributed trainer has this signature."""
    return train_task_model(
        model, batches, labeled, spec.task, spec.runtime, generator, val, progress, spec.quirks
    )


def train_task_model(
    model: nn.Module,
    batches: Batches,
    labeled: np.ndarray,
    task: TaskSpec,
    runtime: RuntimeSpec,
    generator: torch.Generator,
    val: np.ndarray | None = None,
    progress: bool = True,
    quirks: Quirks = NO_QUIRKS,
) -> tuple[nn.Module, TrainStats]:
    """Train `model` on the labeled indices; with a validation split keep the best epoch.

    Validation runs once per pass, or every `task.val_every` steps. `quirks` (vaal_core/spec/quirks.py):
    `eval_mode_training` leaves the model in eval mode after its first validation (67263f3);
    `drop_last` drops each pass's last partial batch. Returns (model, TrainStats): the best
    validation metric (accuracy or mIoU) or None, the last window's training loss and the count
    of non-finite losses.
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
    nonfinite = torch.zeros((), dtype=torch.int64, device=device)
    last_window: dict[str, float] = {}
    best_acc, best_state, train_mode = None, None, True

    def validate() -> None:
        nonlocal best_acc, best_state, train_mode
        if val is None or not len(val):
            return
        acc = evaluate(model, batches, task, runtime, idx=val, split="train")
        tensorboard.validation(step, acc)
        if best_acc is None or acc > best_acc:
            best_acc, best_state = acc, copy.deepcopy(model.state_dict())
        train_mode = not quirks.eval_mode_training  # the original never calls train() again
        model.train(train_mode)

    bar = tqdm(total=total, desc="train", leave=False, disable=not progress)
    step = 0
    while step < total:  # passes over the labeled set, reshuffled each time
        model.train(train_mode)
        # drawn on the host by the seeded generator, sent to the device once per pass
        order = device_index(labeled_t[torch.randperm(len(labeled_t), generator=generator)], device)
        for start in batch_starts(len(order), task.batch_size, quirks.drop_last):
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
                finite = torch.isfinite(loss.detach())
                nonfinite += (~finite).to(torch.int64)
                _drop_nonfinite_gradient(params, finite)
                scaler.step(opt)
                scaler.update()
                sched.step()
                meter.add(loss=torch.where(finite, loss.detach(), 0.0), steps_ok=finite.float())
            if step % runtime.log_every == 0 and (means := meter.read()):
                last_window = means
                bar.set_postfix({"loss": f"{_window_loss(means):.3f}"}, refresh=False)
                tensorboard.task_window(step, _window_loss(means), opt.param_groups[0]["lr"])
            if task.val_every and (step - 1) % task.val_every == 0:
                validate()
        if not task.val_every:
            validate()
    bar.close()
    if means := meter.read():  # steps since the last read: the final window
        last_window = means
        tensorboard.task_window(step, _window_loss(means), opt.param_groups[0]["lr"])
    if best_state is not None:
        model.load_state_dict(best_state)
    return model, TrainStats(
        val_value=best_acc,
        train_loss=_window_loss(last_window),
        nonfinite_losses=read_counter(nonfinite),
        steps=step,
    )


def _window_loss(means: dict[str, float]) -> float | None:
    """Mean loss over the window's finite steps (NaN when every step of it was non-finite)."""
    if not means:
        return None
    ok = means.get("steps_ok", 1.0)
    return means["loss"] / ok if ok > 0 else math.nan


# the labeled set's own metric is measured on at most this many images (a seeded subsample past it)
FIT_SAMPLE = 2000


def labeled_fit(
    model: nn.Module,
    batches: Batches,
    labeled: np.ndarray,
    task: TaskSpec,
    runtime: RuntimeSpec,
    rng: np.random.Generator,
) -> tuple[float, int]:
    """(metric on the labeled set itself, images it was measured on): eval mode, no augmentation,
    against the labels the model was trained on (the oracle's, noisy under the noise ablation)."""
    idx = np.asarray(labeled)
    if len(idx) > FIT_SAMPLE:
        idx = np.sort(rng.choice(idx, FIT_SAMPLE, replace=False))
    return evaluate(model, batches, task, runtime, idx=idx, split="train"), len(idx)


def fit_threshold(task: TaskSpec, kind: TaskKind, label_noise: float = 0.0) -> float:
    """The least labeled-set metric a healthy cycle reaches: `task.min_fit`, else the task kind's
    default, scaled by (1 - label noise) since flipped labels need not be memorised."""
    base = task.min_fit if task.min_fit is not None else kind.default_min_fit
    return base * (1.0 - label_noise)


def is_fit_ok(stats: TrainStats, train_fit: float, threshold: float) -> bool:
    """README, "Training health": every loss finite and the labeled set fit to the threshold."""
    return stats.nonfinite_losses == 0 and math.isfinite(train_fit) and train_fit >= threshold


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
