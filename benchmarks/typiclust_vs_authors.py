"""TypiClust's picks against its authors' code on a pool of more than 5,000 images.

Runs the authors' `select_samples` (avihu111/TypiClust, deep-al/pycls/al/typiclust.py, from a
clone given by --authors-repo; needs faiss-cpu and pandas, neither a dependency of the suite)
beside `baselines/typiclust.py` on the same features, and measures the share of picks in common:
1. the selection rules: identical features and cluster labels on both sides;
2. the k-means settings (`baselines.typiclust_kmeans`): `suite` (n_init 1, batches of 4,096)
   against `authors` (scikit-learn 1.0.2's defaults as their code called them: KMeans n_init 10,
   MiniBatchKMeans n_init 3 and batches of 5,000), the authors' rules on both sides; beside it,
   the share between two k-means seeds of one setting (how much any re-clustering moves);
3. features L2-normalised once (the suite) or twice (the authors' SCAN features come normalised
   and `load_features` normalises them again): the same k-means seed and rules.
Their code is imported, never copied: its `pycls.datasets.utils` is replaced by a module that
hands it the features, its `kmeans` by our labels (item 1), and faiss' GPU transfer by the
identity (faiss-cpu). Features: the first --pool MNIST training images, pixels centred,
projected on 32 principal axes (torch.pca_lowrank, seed 0), L2-normalised, as
docs/baselines-ledger.md's earlier TypiClust table.

Usage: PYTHONPATH=<dir with faiss> python benchmarks/typiclust_vs_authors.py \
           --authors-repo <clone of avihu111/TypiClust> [--pool 10000] [--seeds 0,1,2]
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
import types
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from baselines.typiclust import authors_picks, cluster  # noqa: E402

# (budget, labeled): cold start at 10 clusters; 500 clusters with few and with many labeled
CASES = [(10, 0), (100, 400), (200, 2000), (500, 500)]


def features(pool: int) -> np.ndarray:
    from vaal_core.datasets import load_dataset

    data = load_dataset("mnist", None, image_size=32)
    x = data.train_x[:pool].reshape(pool, -1).double() / 255.0
    x -= x.mean(0)
    torch.manual_seed(0)
    _, _, v = torch.pca_lowrank(x, q=32, center=False)
    return (x @ v).float().numpy()


def normalise(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def authors_module(repo: Path, feats_holder: dict):
    """Their typiclust module, with its data loader and GPU transfer replaced (see docstring)."""
    import faiss

    faiss.index_cpu_to_all_gpus = lambda index: index  # faiss-cpu: stay on the CPU
    utils = types.ModuleType("pycls.datasets.utils")
    utils.load_features = lambda name, seed: feats_holder["x"]
    for name in ("pycls", "pycls.datasets"):
        sys.modules.setdefault(name, types.ModuleType(name))
    sys.modules["pycls.datasets.utils"] = utils
    sys.modules["pycls.datasets"].utils = utils
    path = repo / "deep-al" / "pycls" / "al" / "typiclust.py"
    spec = importlib.util.spec_from_file_location("authors_typiclust", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def authors_select(mod, x: np.ndarray, labels: np.ndarray, lab: np.ndarray, budget: int):
    holder = {"x": x}
    mod.ds_utils.load_features = lambda name, seed: holder["x"]
    mod.kmeans = lambda features, num_clusters: labels
    unl = np.setdiff1d(np.arange(len(x)), lab)
    cfg = {"DATASET": {"NAME": "MNIST"}, "RNG_SEED": 0}
    active, _ = mod.TypiClust(cfg, lab, unl, budget).select_samples()
    return np.asarray(active)


def ours(x: np.ndarray, labels: np.ndarray, lab: np.ndarray, budget: int) -> np.ndarray:
    is_lab = np.zeros(len(x), dtype=bool)
    is_lab[lab] = True
    return authors_picks(torch.from_numpy(x), labels, is_lab, budget, knn=20, min_size=5)


def shared(a: np.ndarray, b: np.ndarray) -> float:
    return len(np.intersect1d(a, b)) / len(a)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--authors-repo", required=True, type=Path)
    ap.add_argument("--pool", type=int, default=10_000)
    ap.add_argument("--seeds", default="0,1,2")
    args = ap.parse_args()
    torch.set_num_threads(1)
    raw = features(args.pool)
    once, twice = normalise(raw), normalise(normalise(raw))
    mod = authors_module(args.authors_repo, {"x": once})
    seeds = [int(s) for s in args.seeds.split(",")]
    print(f"pool {args.pool:,} MNIST images, PCA-32, seeds {seeds}; share of picks in common")
    print(
        "| budget, labeled | clusters | rules: ours vs theirs | k-means suite vs authors | "
        "two seeds (suite) | two seeds (authors) | normalised once vs twice | "
        "k-means s (suite / authors) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for budget, n_lab in CASES:
        k = min(n_lab + budget, 500)
        cols: dict[str, list[float]] = {}
        for seed in seeds:
            lab = np.sort(np.random.default_rng(seed).choice(args.pool, n_lab, replace=False))
            t0 = time.perf_counter()
            lab_s = cluster(once, k, seed, "suite")
            t1 = time.perf_counter()
            lab_a = cluster(once, k, seed, "authors")
            t2 = time.perf_counter()
            mine = ours(once, lab_s, lab, budget)
            theirs = authors_select(mod, once, lab_s, lab, budget)
            picks_a = ours(once, lab_a, lab, budget)
            other_s = ours(once, cluster(once, k, seed + 100, "suite"), lab, budget)
            other_a = ours(once, cluster(once, k, seed + 100, "authors"), lab, budget)
            picks_2 = ours(twice, cluster(twice, k, seed, "suite"), lab, budget)
            for key, v in (
                ("rules", shared(mine, theirs)),
                ("kmeans", shared(mine, picks_a)),
                ("seed_s", shared(mine, other_s)),
                ("seed_a", shared(picks_a, other_a)),
                ("norm", shared(mine, picks_2)),
                ("t_s", t1 - t0),
                ("t_a", t2 - t1),
            ):
                cols.setdefault(key, []).append(v)
        m = {key: float(np.mean(v)) for key, v in cols.items()}
        print(
            f"| {budget}, {n_lab} | {k} | {m['rules']:.0%} | {m['kmeans']:.0%} | "
            f"{m['seed_s']:.0%} | {m['seed_a']:.0%} | {m['norm']:.0%} | "
            f"{m['t_s']:.1f} / {m['t_a']:.1f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
