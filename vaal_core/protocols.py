"""Named protocol presets: documented sets of spec values, applied under a spec's own values.

`protocol: paper` in a spec (or `--protocol paper`) fills these defaults; anything the spec or a
`--set` override states explicitly wins. Only dataset-independent values live here; sizes that
depend on the dataset (budgets, the VAE's iterations as epochs of the pool) are in
experiments/<dataset>.yaml. README.md lists every difference from both original code versions
(github.com/sinhasam/vaal: first public commit 395da2e, release 67263f3), including the ones no
preset copies because they are bugs: the task model evaluated in train mode (395da2e; fixed in
547b46b), the VAE and discriminator scoring the pool in train mode, and random flips applied
while scoring the pool and evaluating (both versions).
"""

from __future__ import annotations

from typing import Any

PRESETS: dict[str, dict[str, Any]] = {
    # The paper-era code (395da2e), minus its bugs.
    "paper": {
        "task": {
            "optimizer": "adam",
            "lr": 5.0e-4,
            "weight_decay": 0.0,
            "iterations": 100000,  # fixed per cycle, whatever the labeled size
            "schedule": "step",
            "lr_step_fraction": 0.04,  # x0.9 every 100,000 // 25 = 4,000 iterations
            "lr_gamma": 0.9,
            "augment": True,
            "augmentation": "light",  # CIFAR: horizontal flip only; ImageNet: RRC + flip
        },
        # the VAE and discriminator trained in the same loop as the task model: 100,000 iterations
        "vaal": {
            "disc_layers": 4,
            "num_vae_steps": 1,
            "num_adv_steps": 1,
            "match_task_iterations": True,
        },  # fmt: skip
        "dataset": {"val_size": 0, "val_fraction": None},
        # 395da2e started from `budget` (5%) images while reporting 10%; its authors fixed that
        # in 2d30cba ("initial budget fix"), so the preset starts from active.initial (10%);
        # `--set protocol.initial_size=budget` reproduces the bug.
        "protocol": {"initial_size": "spec", "val_counts_against_budget": False},
    },
    # The released code (67263f3).
    "release": {
        "task": {
            "optimizer": "sgd",
            "lr": 0.01,
            "momentum": 0.9,
            "weight_decay": 5.0e-4,
            "iterations": None,
            "epochs": 100,
            "epoch_basis": "train_set",  # N_train x 100 // 128 iterations (39,062 for CIFAR)
            "schedule": "step",
            "lr_step_fraction": 0.25,  # lr / 10 every quarter
            "lr_gamma": 0.1,
            "augment": True,
            "augmentation": "light",
        },
        "vaal": {
            "disc_layers": 2,
            "num_vae_steps": 2,
            "num_adv_steps": 1,
            "match_task_iterations": True,
        },  # fmt: skip
        "dataset": {"val_fraction": 0.1},  # 5,000 of CIFAR's 50,000; 128,120 of ImageNet's
        "protocol": {"initial_size": "spec", "val_counts_against_budget": False},
    },
    # What later work found to matter (Munjal et al., CVPR 2022; Lüth et al., NeurIPS 2023):
    # regularised training with epochs over the labeled set, crop+flip, cosine decay, strong
    # weight decay, and a validation set paid from the labeling budget.
    "modern": {
        "task": {
            "optimizer": "sgd",
            "lr": 0.1,
            "momentum": 0.9,
            "weight_decay": 5.0e-3,
            "iterations": None,
            "epochs": 200,
            "epoch_basis": "labeled",
            "schedule": "cosine",
            "augment": True,
            "augmentation": "standard",  # CIFAR: pad-4 crop + flip; ImageNet: RRC + flip
        },
        "vaal": {
            "disc_layers": 2,
            "num_vae_steps": 2,
            "num_adv_steps": 1,
            "match_task_iterations": False,
        },  # fmt: skip
        "dataset": {"val_fraction": 0.02},  # 1,000 of CIFAR's 50,000, paid from the first 5,000
        "protocol": {"initial_size": "spec", "val_counts_against_budget": True},
    },
}
