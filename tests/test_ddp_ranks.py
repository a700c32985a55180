"""Every DDP rank builds its data and batches through the loop's one factory.

A real two-process gloo group on the CPU runs `vaal_core.run.distributed.run_distributed` on the Caltech-256
fixture read through its disk cache at a non-default `dataset.cache_resolution`, with
augmentation on and an explicit `task.augmentation`. Each rank writes down the first training
batch it would draw (the whole batch, before sharding: every rank draws it with the same
generator) and the settings behind it; the ranks must agree on all of it. Before the fix the
followers loaded the dataset with default load options (another cache resolution) and the
default augmentation, so rank 1's batch differed from rank 0's.
"""

from __future__ import annotations

import json
import multiprocessing
import socket
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.fixtures.datasets import write_caltech256
from tests.helpers import fixture_spec_dict
from vaal_core.run.loop import ActiveLoop
from vaal_core.run.runlog import reproducible_part
from vaal_core.spec import spec_from_dict

SPEC = fixture_spec_dict(
    "caltech256",
    storage="cache",
    cache_resolution=40,  # 40 px stored (the default for 32 px would be 37), crops of 32 px
)
SPEC["experiment"] = "ddp_ranks"
SPEC["task"]["augmentation"] = "flip"  # the default would be random-resized-crop + flip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank_main(rank: int, world: int, port: int, data_root: str, out: str, probes: str) -> None:
    """One rank of the run (a spawned process): probe each training call, then train as usual."""
    import vaal_core.run.distributed as ddp

    torch.set_num_threads(1)
    train = ddp.distributed_train
    calls = []

    def probed(model, batches, labeled, spec, generator, val=None, progress=True):
        gen = torch.Generator()
        gen.set_state(generator.get_state())
        idx = torch.as_tensor(np.sort(np.asarray(labeled))[: spec.task.batch_size])
        x, y = batches.train_batch(idx, spec.task.augment, gen)
        data = batches.data
        torch.save(
            {
                "x": x,
                "y": y,
                "augmentation": batches.augmentation,
                "augment_fn": batches.augment_fn.__name__,
                "channels_last": batches.channels_last,
                "storage": data.storage,
                "resolution": getattr(data, "resolution", None),
                "image_size": data.image_size,
            },
            Path(probes) / f"rank{rank}-call{len(calls)}.pt",
        )
        calls.append(1)
        return train(model, batches, labeled, spec, generator, val, progress)

    ddp.distributed_train = probed
    env = ddp.DistEnv(rank, world, rank, "127.0.0.1", port)
    records = ddp.run_distributed(
        spec_from_dict(SPEC), "random", 0, out, data_root, env, progress=False
    )
    if rank == 0:
        (Path(probes) / "records.json").write_text(json.dumps(records))


@pytest.fixture
def caltech(tmp_path, monkeypatch):
    monkeypatch.setenv("VAAL_NO_DOWNLOAD", "1")
    write_caltech256(tmp_path / "data", classes=3, per_class=10)
    return tmp_path / "data"


def test_every_rank_draws_the_same_batches_through_the_loops_factory(tmp_path, caltech):
    # the single-process reference builds the cache the ranks then read
    single = ActiveLoop(
        spec_from_dict(SPEC), "random", 0, tmp_path / "single", data_root=caltech, progress=False
    ).run()
    probes = tmp_path / "probes"
    probes.mkdir()
    port, ctx = _free_port(), multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(
            target=_rank_main, args=(r, 2, port, str(caltech), str(tmp_path / "out"), str(probes))
        )
        for r in (0, 1)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=300)
    assert [p.exitcode for p in procs] == [0, 0]

    for call in (0, 1):  # one training per cycle
        r0 = torch.load(probes / f"rank0-call{call}.pt")
        r1 = torch.load(probes / f"rank1-call{call}.pt")
        settings = {k: v for k, v in r0.items() if k not in ("x", "y")}
        assert settings == {
            "augmentation": "flip",
            "augment_fn": "_flip",
            "channels_last": False,
            "storage": "cache",
            "resolution": 40,
            "image_size": 32,
        }
        assert {k: v for k, v in r1.items() if k not in ("x", "y")} == settings
        assert torch.equal(r0["y"], r1["y"])
        assert torch.equal(r0["x"], r1["x"])  # the same pixels, the same flips

    # the two-process run is the one-process run: the same pools and selections; the metric
    # differs only through BatchNorm statistics computed per half batch, and the recorded
    # training loss is rank 0's, over its half of each batch
    records = json.loads((probes / "records.json").read_text())
    assert len(records) == len(single) == 2
    numeric = ("value", "train_loss")
    for two, one in zip(records, single, strict=True):
        a, b = reproducible_part(two), reproducible_part(one)
        assert {k: v for k, v in a.items() if k not in numeric} == {
            k: v for k, v in b.items() if k not in numeric
        }
        assert abs(a["value"] - b["value"]) <= 1 / 3, (a["value"], b["value"])
