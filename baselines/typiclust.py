"""TypiClust: the most typical image of the least-covered clusters (Hacohen, Dekel & Weinshall,
"Active Learning on a Budget: Opposite Strategies Suit High and Low Budgets", ICML 2022).

The paper clusters self-supervised (SimCLR/DINO) features; no such model can be downloaded here,
so we use the task model's penultimate-layer features, L2-normalised as the paper normalises its
SimCLR features. Clustering is scikit-learn's (KMeans for up to 50 clusters, MiniBatchKMeans
above, as the authors' code does). Typicality of x is 1 / (mean distance to its K nearest
neighbours within its cluster), K = `baselines.typiclust_knn`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from vaal_core.strategies import QueryContext, Strategy, check_at_least, register_strategy

from .coreset import check_chunk_size, chunk_size_option

_TYPICLUST_PURPOSE = 5
_KMEANS_LIMIT = 50  # above this many clusters MiniBatchKMeans (as Hacohen et al.'s code)


def cluster(feats: np.ndarray, n_clusters: int, seed: int) -> np.ndarray:
    """Cluster id of each row, by scikit-learn's (MiniBatch)KMeans with k-means++ seeding."""
    # imported here: the strategy registry loads every baseline, and sklearn costs each run ~0.7 s
    from sklearn.cluster import KMeans, MiniBatchKMeans

    if n_clusters <= _KMEANS_LIMIT:
        km = KMeans(n_clusters=n_clusters, n_init=1, random_state=seed)
    else:
        km = MiniBatchKMeans(n_clusters=n_clusters, n_init=1, batch_size=4096, random_state=seed)
    return km.fit_predict(feats).astype(np.int64)


@torch.inference_mode()
def typicality(feats: torch.Tensor, labels: np.ndarray, knn: int, chunk: int) -> np.ndarray:
    """1 / mean distance to the K nearest other members of the same cluster (K capped by the
    cluster's size; a singleton gets 0). Distances are computed cluster by cluster in row blocks,
    so memory is O(chunk x largest cluster)."""
    typ = np.zeros(len(feats))
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        k = min(knn, len(members) - 1)
        if k == 0:
            continue
        x = feats[torch.as_tensor(members)]
        for i in range(0, len(members), chunk):
            d = torch.cdist(x[i : i + chunk], x)
            rows = torch.arange(len(d))
            d[rows, rows + i] = float("inf")  # not its own neighbour
            mean_knn = d.topk(k, dim=1, largest=False).values.mean(1)
            typ[members[i : i + chunk]] = (1.0 / (mean_knn + 1e-8)).double().cpu().numpy()
    return typ


def typiclust_picks(
    labels: np.ndarray, typ: np.ndarray, is_labeled: np.ndarray, budget: int, min_size: int
) -> np.ndarray:
    """Positions of `budget` picks: repeatedly the cluster with the fewest labeled images (ties:
    the larger, then the lower id), and in it the most typical unlabeled image. Clusters smaller
    than `min_size` are used only when the others have no unlabeled image left."""
    n_clusters = int(labels.max()) + 1
    sizes = np.bincount(labels, minlength=n_clusters)
    covered = np.bincount(labels[is_labeled], minlength=n_clusters)
    # per cluster: its unlabeled positions, most typical first
    order = np.lexsort((-typ, labels))
    queues = {c: [] for c in range(n_clusters)}
    for p in order:
        if not is_labeled[p]:
            queues[int(labels[p])].append(int(p))
    heads = np.zeros(n_clusters, dtype=np.int64)
    left = np.array([len(queues[c]) for c in range(n_clusters)])
    picks = []
    for _ in range(budget):
        open_ = left > 0
        big = open_ & (sizes >= min_size)
        pool = big if big.any() else open_
        cand = np.flatnonzero(pool)
        c = cand[np.lexsort((cand, -sizes[cand], covered[cand]))[0]]
        picks.append(queues[c][heads[c]])
        heads[c] += 1
        left[c] -= 1
        covered[c] += 1
    return np.asarray(picks, dtype=np.int64)


@dataclass(frozen=True)
class TypiClustOptions:
    """TypiClust's knobs (Hacohen, Dekel & Weinshall, ICML 2022): spec keys
    `baselines.typiclust_<field>` (and the shared `baselines.chunk_size`). The defaults are also
    pinned in vaal_core/spec.py `_LEGACY_OWNED` (they were spec fields once, so older spec hashes
    include them)."""

    max_clusters: int = 500  # cap on |labeled| + budget clusters
    knn: int = 20  # neighbours in the typicality estimate
    min_cluster_size: int = 5  # smaller clusters are used only once the others run dry
    chunk_size: int = chunk_size_option()  # `baselines.chunk_size`, shared with core-set

    def __post_init__(self) -> None:
        for name, what in (
            ("max_clusters", "clusters"),
            ("knn", "neighbours"),
            ("min_cluster_size", "images per cluster"),
        ):
            check_at_least(f"typiclust_{name}", getattr(self, name), 1, what)
        check_chunk_size(self.chunk_size)


@register_strategy("typiclust")
class TypiClustStrategy(Strategy):
    """Low-budget strategy: typical images from uncovered clusters of |labeled| + budget."""

    needs = frozenset({"embeddings"})
    options_type, option_prefix = TypiClustOptions, "typiclust_"

    def select(self, ctx: QueryContext, budget: int) -> np.ndarray:
        o = self.options
        cands = ctx.pool.candidates
        feats = torch.nn.functional.normalize(ctx.embeddings(cands), dim=1)
        is_lab = np.isin(cands, ctx.pool.labeled)
        n_clusters = min(int(is_lab.sum()) + budget, o.max_clusters, len(cands))
        labels = cluster(
            feats.cpu().numpy(), n_clusters, ctx.derived_seed(_TYPICLUST_PURPOSE) % 2**31
        )
        typ = typicality(feats, labels, o.knn, o.chunk_size)
        ctx.stats["clusters"] = n_clusters
        picks = typiclust_picks(labels, typ, is_lab, budget, o.min_cluster_size)
        return cands[picks]
