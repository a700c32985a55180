"""What k-center greedy's remedies for ImageNet-sized pools cost in picks (docs/scale.md).

`baselines.coreset_candidates` (pick among a random subset of the unlabeled pool) and
`baselines.coreset_projection` (a seeded Gaussian projection of the features) against the exact
algorithm on one pool that runs here: seconds, the share of picks in common with the exact
picks, and the k-center objective they reach (the covering radius: the largest distance of any
pool image to its nearest labeled or picked image), as a ratio to the exact picks' radius.
Features: a seeded 100-centre Gaussian mixture at ResNet18's 512 dimensions (synthetic: no task
model is trained here).

Usage: nice -n 10 python benchmarks/coreset_remedy.py [--pool 45000] [--labeled 5000]
       [--budget 2500] [--seeds 0,1]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from baselines.coreset import (  # noqa: E402
    CoreSetOptions,
    covering_radius,
    k_center_greedy,
    reduced_pool,
)

SETTINGS = [
    ("exact", CoreSetOptions()),
    ("candidates 20,000", CoreSetOptions(candidates=20_000)),
    ("candidates 10 x budget", None),  # filled from the budget
    ("candidates 2 x budget", None),
    ("projection 128", CoreSetOptions(projection=128)),
    ("projection 32", CoreSetOptions(projection=32)),
]


def mixture(n: int, d: int, seed: int, centres: int = 100) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    mu = torch.randn(centres, d, generator=g) * 2
    return torch.randn(n, d, generator=g) + mu[torch.randint(centres, (n,), generator=g)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pool", type=int, default=45_000)
    ap.add_argument("--labeled", type=int, default=5_000)
    ap.add_argument("--budget", type=int, default=2_500)
    ap.add_argument("--seeds", default="0,1")
    args = ap.parse_args()
    n, b = args.pool + args.labeled, args.budget
    settings = [
        (name, o or CoreSetOptions(candidates=(10 if "10" in name else 2) * b))
        for name, o in SETTINGS
    ]
    print(f"pool {args.pool:,} unlabeled + {args.labeled:,} labeled, 512-d, budget {b:,}")
    print("| setting | seconds | picks shared with exact | covering radius / exact |")
    print("|---|---|---|---|")
    table: dict[str, list[tuple[float, float, float]]] = {}
    for seed in [int(s) for s in args.seeds.split(",")]:
        x = mixture(n, 512, seed)
        is_lab = np.zeros(n, dtype=bool)
        is_lab[np.random.default_rng(seed).choice(n, args.labeled, replace=False)] = True
        lab_rows, exact = np.flatnonzero(is_lab), None
        for name, opts in settings:
            t0 = time.perf_counter()
            rows, feats, lab = reduced_pool(x, is_lab, b, opts, seed=1000 + seed)
            picks = rows[k_center_greedy(feats, lab, b)]
            seconds = time.perf_counter() - t0
            radius = covering_radius(x, np.concatenate([lab_rows, picks]))
            if exact is None:
                exact, exact_r = picks, radius
            share = len(np.intersect1d(picks, exact)) / b
            table.setdefault(name, []).append((seconds, share, radius / exact_r))
    for name, runs in table.items():
        s, sh, r = (float(np.mean(v)) for v in zip(*runs, strict=True))
        print(f"| {name} | {s:.1f} | {sh:.1%} | {r:.3f} |")


if __name__ == "__main__":
    main()
