"""Several processes of one node train the task model together (DistributedDataParallel).

One process per GPU (on CPU, gloo with any number of processes); the launcher says where the
processes run and hands each its rank (`DistEnv`; slurm/ derives it from the SLURM job). Rank 0 runs the ordinary `ActiveLoop` and is
the only one that evaluates, selects and writes the run directory; the other ranks only train:
before each training, rank 0 broadcasts what the step needs (labeled indices, validation indices,
the sampling generator's state), DDP copies rank 0's freshly initialised weights at wrap time, and
every rank draws the same batch order and trains on its equal part of each batch. Gradients are
averaged across ranks, so one optimiser step sees the whole batch (Li et al., "PyTorch
Distributed: Experiences on Accelerating Data Parallel Training", VLDB 2020).

Rank 0 hands the loop its distributed trainer (`ActiveLoop(train_fn=...)`, the signature of
`train_for_spec`) and records the process group in env.json (`env_extra`). Every rank builds its
data and batches through the loop's own factory (`vaal_core.train.batches`) and its model through the
round's (`round.build_task_model`), so the ranks share storage, cache, augmentation and model
settings (tests/test_ddp_ranks.py).
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from ..spec import Spec
from ..train.batches import Batches, batches_from_spec, data_from_spec
from ..train.device import resolve_device
from ..train.trainer import TrainStats, train_task_model
from .loop import ActiveLoop
from .round import build_task_model

_TRAIN, _STOP = "train", "stop"


@dataclass(frozen=True)
class DistEnv:
    rank: int
    world_size: int
    local_rank: int
    master_addr: str
    master_port: int


def _backend(device: torch.device) -> str:
    return "nccl" if device.type == "cuda" else "gloo"


@contextmanager
def process_group(env: DistEnv, device: torch.device) -> Iterator[None]:
    os.environ.update(MASTER_ADDR=env.master_addr, MASTER_PORT=str(env.master_port))
    if env.master_addr == "127.0.0.1":
        os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
    # followers wait in a broadcast while rank 0 evaluates and selects (VAAL trains its own
    # networks there): the default 30-minute collective timeout is too short for ImageNet
    dist.init_process_group(
        _backend(device), rank=env.rank, world_size=env.world_size, timeout=timedelta(hours=24)
    )
    try:
        yield
    finally:
        dist.destroy_process_group()


class _Shard(nn.Module):
    """DDP in training, the bare module for validation passes (whole batch, no collective)."""

    def __init__(self, ddp: DistributedDataParallel):
        super().__init__()
        self.ddp = ddp

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.ddp(x) if self.training else self.ddp.module(x)


def shard(n: int, rank: int, world: int) -> slice:
    """This rank's part of a batch of n: equal parts (so every rank takes the same steps and the
    averaged gradient weighs each sample alike; the remainder of an uneven batch sits out that
    step); a batch too small to give every rank two samples
    is trained whole on every rank (BatchNorm needs two; the average is then the plain gradient).
    """
    per = n // world
    return slice(rank * per, (rank + 1) * per) if per >= 2 else slice(0, n)


def distributed_train(
    model: nn.Module,
    batches: Batches,
    labeled: np.ndarray,
    spec: Spec,
    generator: torch.Generator,
    val: np.ndarray | None = None,
    progress: bool = True,
) -> tuple[nn.Module, TrainStats]:
    """`train_for_spec` across the process group; every rank calls it with the same arguments.

    The model trained is a copy wrapped in DDP; its weights are loaded back into `model`, which
    DDP never touched (no gradient hooks left behind for the strategies' own backward passes).
    The trainer quirks are refused for distributed runs at the loop's start (`ActiveLoop`).
    """
    rank, world = dist.get_rank(), dist.get_world_size()
    device = batches.device
    replica = copy.deepcopy(model)
    ddp = DistributedDataParallel(
        replica, device_ids=[device.index] if device.type == "cuda" else None
    )

    # every rank draws the whole batch (the generator stays in step), then keeps its part
    class _ShardBatches:
        def __getattr__(self, name: str) -> Any:
            return getattr(batches, name)

        def train_batch(self, idx, augment, gen):
            x, y = batches.train_batch(idx, augment, gen)
            part = shard(len(y), rank, world)
            return x[part], y[part]

    _, stats = train_task_model(
        _Shard(ddp),
        _ShardBatches(),
        labeled,
        spec.task,
        spec.runtime,
        generator,
        val=val,
        progress=progress,
    )
    model.load_state_dict(replica.state_dict())
    return model, stats


def _broadcast(obj: Any) -> Any:
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def _announce_and_train(model, batches, labeled, spec, generator, val=None, progress=True):
    """Rank 0's trainer: tell the followers what to train on (with the oracle's labels), then join."""
    labels = batches.labels(labeled).cpu()
    _broadcast(
        (
            _TRAIN,
            (np.asarray(labeled), labels),
            None if val is None else np.asarray(val),
            generator.get_state(),
        )
    )
    return distributed_train(model, batches, labeled, spec, generator, val, progress)


@contextmanager
def _followers_released() -> Iterator[None]:
    """Rank 0: whatever happens in the loop, the followers are told to stop at the end."""
    try:
        yield
    finally:
        _broadcast((_STOP, None, None, None))


def _follow(spec: Spec, data_root: str | None, device: torch.device) -> None:
    """Ranks > 0: train whenever rank 0 says so, until it says stop."""
    if spec.runtime.num_threads:
        torch.set_num_threads(spec.runtime.num_threads)
    # the loop's own factory: the same storage, cache and augmentation as rank 0
    batches = batches_from_spec(spec, data_from_spec(spec, data_root, progress=False), device)
    data = batches.data
    while True:
        what, payload, val, gen_state = _broadcast(None)
        if what == _STOP:
            return
        labeled, labels = payload  # the oracle's labels (noisy under the noisy-oracle ablation)
        batches.train_labels = data.train_y.clone().to(device)
        batches.train_labels[torch.as_tensor(labeled)] = labels.to(device)
        gen = torch.Generator()
        gen.set_state(gen_state)
        # rank 0's weights reach this model when DDP wraps it; the settings are the loop's
        model = build_task_model(spec, batches)
        distributed_train(model, batches, labeled, spec, gen, val, False)


def run_distributed(
    spec: Spec,
    strategy: str,
    seed: int,
    out: str | Path,
    data_root: str | None,
    env: DistEnv,
    **loop_kwargs: Any,
) -> list[dict[str, Any]] | None:
    """One run across `env.world_size` processes; rank 0 returns the records, the others None."""
    device = resolve_device(spec.runtime.device)
    if device.type == "cuda":  # one GPU per process, whether SLURM binds one or shows them all
        device = torch.device("cuda", env.local_rank % torch.cuda.device_count())
        torch.cuda.set_device(device)
    with process_group(env, device):
        if env.rank != 0:
            _follow(spec, data_root, device)
            return None
        extra = {"world_size": env.world_size, "backend": dist.get_backend()}
        with _followers_released():
            return ActiveLoop(
                spec,
                strategy,
                seed,
                out,
                data_root,
                train_fn=_announce_and_train,
                env_extra=extra,
                **loop_kwargs,
            ).run()
