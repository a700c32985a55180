"""The one rule of what enters a spec's hash, held by tests that fail when a change would move
the hash of every recorded run without saying so (vaal_core/spec/hashing.py)."""

from __future__ import annotations

from vaal_core.spec import Spec, spec_from_dict
from vaal_core.spec.hashing import Hashed
from vaal_core.spec.schema import keys_with

# every key spec.yaml writes for a spec that sets nothing: the keys of the first recorded runs.
# A new spec key changes every pinned hash unless it is declared
# `hashed(Hashed.OMIT_AT_DEFAULT, default)` (left out while at its default); add it here only
# if every recorded hash is meant to change.
HASHED_KEYS = [
    "active.budget",
    "active.cycles",
    "active.initial",
    "baselines.chunk_size",
    "baselines.ensemble_size",
    "baselines.mc_samples",
    "baselines.typiclust_knn",
    "baselines.typiclust_max_clusters",
    "baselines.typiclust_min_cluster_size",
    "dataset.cache_dir",
    "dataset.cache_rebuild",
    "dataset.cache_resolution",
    "dataset.cache_workers",
    "dataset.download",
    "dataset.image_size",
    "dataset.name",
    "dataset.pool_seed",
    "dataset.pool_size",
    "dataset.storage",
    "dataset.test_size",
    "dataset.val_fraction",
    "dataset.val_size",
    "experiment",
    "protocol.initial_classes",
    "protocol.initial_size",
    "protocol.label_noise",
    "protocol.name",
    "protocol.reset_task_each_cycle",
    "protocol.val_counts_against_budget",
    "runtime.channels_last",
    "runtime.compile",
    "runtime.device",
    "runtime.fused_optimizer",
    "runtime.log_every",
    "runtime.num_threads",
    "runtime.precision",
    "seeds",
    "strategies",
    "task.augment",
    "task.augmentation",
    "task.batch_size",
    "task.epoch_basis",
    "task.epochs",
    "task.eval_batch_size",
    "task.iterations",
    "task.lr",
    "task.lr_gamma",
    "task.lr_milestones",
    "task.lr_step_fraction",
    "task.model",
    "task.momentum",
    "task.optimizer",
    "task.schedule",
    "task.weight_decay",
    "vaal.adversary_param",
    "vaal.batch_size",
    "vaal.beta",
    "vaal.diag_holdout",
    "vaal.disc_hidden",
    "vaal.disc_layers",
    "vaal.epochs",
    "vaal.game",
    "vaal.image_size",
    "vaal.kl_reduction",
    "vaal.latent_dim",
    "vaal.lr_disc",
    "vaal.lr_vae",
    "vaal.match_task_iterations",
    "vaal.num_adv_steps",
    "vaal.num_vae_steps",
    "vaal.reset_each_cycle",
    "vaal.width",
]


def _written_keys(spec: Spec) -> list[str]:
    d = spec.to_dict()
    return sorted(
        f"{s}.{k}" if isinstance(v, dict) else s
        for s, v in d.items()
        for k in (v if isinstance(v, dict) else [None])
    )


def test_a_new_key_must_say_how_it_is_hashed():
    assert _written_keys(Spec("x")) == HASHED_KEYS, (
        "spec.yaml now writes another set of keys for a spec that sets nothing, which moves the "
        "hash of every recorded run; declare a new key hashed(Hashed.OMIT_AT_DEFAULT, default) "
        "in vaal_core/spec/schema.py"
    )


def test_a_key_left_out_at_its_default_is_written_once_set():
    later = keys_with(Hashed.OMIT_AT_DEFAULT)
    assert {"task.pretrained", "protocol.quirks", "vaal.init"} <= set(later)
    spec = spec_from_dict({"experiment": "x", "task": {"val_every": 7}})
    assert "val_every" in spec.to_dict()["task"]
    assert "val_every" not in Spec("x").to_dict()["task"]
    assert spec.hash() != Spec("x").hash()


def test_speed_settings_and_run_length_do_not_move_the_hash():
    base = spec_from_dict({"experiment": "x"})
    for change in ({"runtime": {"num_threads": 3}}, {"active": {"cycles": 9}}, {"seeds": [4]}):
        assert spec_from_dict({"experiment": "x", **change}).hash() == base.hash(), change
    assert (
        spec_from_dict({"experiment": "x", "runtime": {"precision": "bf16"}}).hash() != base.hash()
    )
