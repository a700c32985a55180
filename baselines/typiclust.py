"""TypiClust: the most typical image of the least-covered clusters (Hacohen, Dekel & Weinshall,
"Active Learning on a Budget: Opposite Strategies Suit High and Low Budgets", ICML 2022).

The paper clusters self-supervised (SimCLR/DINO) features; no such model can be downloaded here,
so we use the task model's penultimate-layer features, L2-normalised as the authors' code
normalises its SimCLR features. Clustering is scikit-learn's (KMeans for up to 50 clusters,
MiniBatchKMeans above, as the authors' code does) into min(|labeled| + budget,
`baselines.typiclust_max_clusters`) clusters.

Two selection rules (`baselines.typiclust_variant`), docs/baselines-ledger.md compares them:
- `authors` (default), the rules of the authors' code (avihu111/TypiClust,
  deep-al/pycls/al/typiclust.py): the clusters of more than `typiclust_min_cluster_size` images
  are sorted once (fewest labeled images first, then the larger, then the lower id) and visited
  round robin; each visit recomputes typicality over the cluster's images still unlabeled,
  1 / (mean SQUARED distance to its K nearest + 1e-5) with K = min(`typiclust_knn`, members
  left // 2), and takes the most typical.
- `suite`, this suite's earlier reading: typicality once over all members (plain distance,
  K = min(knn, size - 1), epsilon 1e-8); at every pick the cluster with the fewest labeled
  images; clusters of at least `typiclust_min_cluster_size` images first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from vaal_core.strategies import (
    Picks,
    QueryContext,
    ScoreKind,
    SpecError,
    Strategy,
    check_at_least,
    register_strategy,
)

from .coreset import check_chunk_size, chunk_size_option

_TYPICLUST_PURPOSE = 5
_KMEANS_LIMIT = 50  # above this many clusters MiniBatchKMeans (as Hacohen et al.'s code)
AUTHORS_EPS = 1e-5  # typicality = 1 / (mean squared neighbour distance + AUTHORS_EPS)


# k-means settings (`baselines.typiclust_kmeans`): (KMeans kwargs, MiniBatchKMeans kwargs).
# `authors`: what avihu111/TypiClust's `kmeans` got from scikit-learn 1.0.2, the version of its
# typiclust-env.txt: KMeans' defaults then (n_init=10, algorithm "auto" = elkan) and
# MiniBatchKMeans(batch_size=5000) with n_init=3; both unseeded there, seeded here.
# `suite`: one k-means++ start, batches of 4,096 (the suite's records were made with it).
KMEANS_SETTINGS: dict[str, tuple[dict, dict]] = {
    "suite": ({"n_init": 1}, {"n_init": 1, "batch_size": 4096}),
    "authors": ({"n_init": 10, "algorithm": "elkan"}, {"n_init": 3, "batch_size": 5000}),
}


def cluster(feats: np.ndarray, n_clusters: int, seed: int, settings: str = "suite") -> np.ndarray:
    """Cluster id of each row, by scikit-learn's (MiniBatch)KMeans with k-means++ seeding."""
    # imported here: the strategy registry loads every baseline, and sklearn costs each run ~0.7 s
    from sklearn.cluster import KMeans, MiniBatchKMeans

    full, mini = KMEANS_SETTINGS[settings]
    if n_clusters <= _KMEANS_LIMIT:
        km = KMeans(n_clusters=n_clusters, random_state=seed, **full)
    else:
        km = MiniBatchKMeans(n_clusters=n_clusters, random_state=seed, **mini)
    return km.fit_predict(feats).astype(np.int64)


# ---------------------------------------------------------------- the authors' rules
@torch.inference_mode()
def authors_typicality(x: torch.Tensor, knn: int, chunk: int) -> np.ndarray:
    """Typicality of each row of `x` among the rows of `x` (the unlabeled members still left in
    one cluster): 1 / (mean squared L2 distance to its K nearest other rows + 1e-5), with
    K = min(knn, len(x) // 2), so a small cluster's density is measured over half of it. A single
    row has no neighbours (K = 0) and gets typicality 0: it is the only choice anyway."""
    k = min(knn, len(x) // 2)
    if k == 0:
        return np.zeros(len(x))
    return typicality_of_rows(x, torch.arange(len(x)), k, chunk)[0]


@torch.inference_mode()
def typicality_of_rows(
    x: torch.Tensor, which: torch.Tensor, k: int, chunk: int
) -> tuple[np.ndarray, np.ndarray]:
    """Typicality of rows `which` of `x` among all rows of `x` (K = k), and the positions in `x`
    of each one's k nearest: what a pick can invalidate."""
    typ, nbrs = np.zeros(len(which)), np.zeros((len(which), k), dtype=np.int64)
    for i in range(0, len(which), chunk):
        rows = which[i : i + chunk]
        d = torch.cdist(x[rows], x).square_()
        d[torch.arange(len(rows)), rows] = float("inf")  # not its own neighbour
        near = d.topk(k, dim=1, largest=False)
        typ[i : i + chunk] = (1.0 / (near.values.mean(1).double() + AUTHORS_EPS)).cpu().numpy()
        nbrs[i : i + chunk] = near.indices.cpu().numpy()
    return typ, nbrs


def cluster_order(labels: np.ndarray, is_labeled: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(cluster ids, their sizes), sorted once: fewest labeled images first, then the larger
    cluster, then the lower id. Counts are per id present, so ids may have gaps (an empty
    k-means cluster): every id gets its own count."""
    ids, inverse, sizes = np.unique(labels, return_inverse=True, return_counts=True)
    existing = np.bincount(inverse[is_labeled], minlength=len(ids))
    order = np.lexsort((ids, -sizes, existing))
    return ids[order], sizes[order]


def rotation(tiers: list[np.ndarray], left: dict[int, int]) -> Iterator[int]:
    """Round robin over each tier of cluster ids in turn, skipping a cluster with no unlabeled
    image `left`; the next tier starts once every cluster of this one has run dry. The caller
    decrements `left` after each pick."""
    for tier in tiers:
        while any(left[int(c)] > 0 for c in tier):
            for c in tier:
                if left[int(c)] > 0:
                    yield int(c)


def authors_picks(
    feats: torch.Tensor,
    labels: np.ndarray,
    is_labeled: np.ndarray,
    budget: int,
    knn: int,
    min_size: int,
    chunk: int = 4096,
) -> np.ndarray:
    """Positions of `budget` picks by the authors' rules (module docstring, `authors`).

    Where the authors' code crashes, this goes on: a cluster with no unlabeled image left is
    skipped in the rotation (their code fails with "argmax of an empty sequence" once a budget
    outlasts a cluster, or on a cluster labeled entirely); once every cluster of more than
    `min_size` images has run dry, or if there is none, the small clusters are visited the same
    way (their code divides by zero); labeled counts are kept per cluster id, so an id without
    members does not shift the counts (their DataFrame fails or misaligns them). Ties in
    typicality: the lowest position."""
    if budget > int((~is_labeled).sum()):
        raise ValueError(f"budget {budget} exceeds the {int((~is_labeled).sum())} unlabeled images")
    ids, sizes = cluster_order(labels, is_labeled)
    tiers = [ids[sizes > min_size], ids[sizes <= min_size]]
    unlabeled = np.flatnonzero(~is_labeled)
    by_cluster = unlabeled[np.argsort(labels[unlabeled], kind="stable")]  # ascending positions
    starts = np.searchsorted(labels[by_cluster], ids)
    ends = np.searchsorted(labels[by_cluster], ids, side="right")
    members = {int(c): by_cluster[a:b] for c, a, b in zip(ids, starts, ends, strict=True)}
    left = {c: len(m) for c, m in members.items()}
    picks: list[int] = []
    visits = rotation(tiers, left)
    # per cluster, from its last visit: (K, typicality of the members left, positions of each
    # one's K nearest, the position picked). The authors recompute the whole cluster at every
    # visit (m^2 d for m members); a member keeps its K nearest, and so its typicality, unless
    # the pick was one of them, so only those rows are recomputed while K stays the same.
    known: dict[int, tuple[int, np.ndarray, np.ndarray, int]] = {}
    for _ in range(budget):
        c = next(visits)
        rows = members[c]
        k = min(knn, len(rows) // 2)
        if k == 0:
            typ, nbrs = np.zeros(len(rows)), np.zeros((len(rows), 0), dtype=np.int64)
        elif c in known and known[c][0] == k:
            _, typ, nbrs, gone = known[c]
            stale = np.flatnonzero((nbrs == gone).any(1))
            if len(stale):  # the cluster's features gathered only when a row needs them
                x = feats[torch.as_tensor(rows)]
                t, near = typicality_of_rows(x, torch.as_tensor(stale), k, chunk)
                typ[stale], nbrs[stale] = t, rows[near]
        else:
            x = feats[torch.as_tensor(rows)]
            typ, near = typicality_of_rows(x, torch.arange(len(rows)), k, chunk)
            nbrs = rows[near]
        best = int(np.argmax(typ))
        picks.append(int(rows[best]))
        members[c] = np.delete(rows, best)
        known[c] = (k, np.delete(typ, best), np.delete(nbrs, best, axis=0), int(rows[best]))
        left[c] -= 1
    return np.asarray(picks, dtype=np.int64)


# ---------------------------------------------------------------- the suite's earlier rules
@torch.inference_mode()
def typicality(feats: torch.Tensor, labels: np.ndarray, knn: int, chunk: int) -> np.ndarray:
    """`suite` rule: 1 / mean (plain) distance to the K nearest other members of the same cluster
    (K capped by the cluster's size; a singleton gets 0). Distances are computed cluster by
    cluster in row blocks, so memory is O(chunk x largest cluster)."""
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
    """`suite` rule: positions of `budget` picks: repeatedly the cluster with the fewest labeled
    images (ties: the larger, then the lower id), and in it the most typical unlabeled image.
    Clusters smaller than `min_size` are used only when the others have no unlabeled image left."""
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


# ---------------------------------------------------------------- options and strategy
@dataclass(frozen=True)
class TypiClustOptions:
    """TypiClust's knobs (Hacohen, Dekel & Weinshall, ICML 2022): spec keys
    `baselines.typiclust_<field>` (and the shared `baselines.chunk_size`). The defaults of the
    first three are also pinned in vaal_core/spec/hashing.py `LEGACY_OWNED` (they were spec fields once,
    so older spec hashes include them); `variant` is written only when set."""

    max_clusters: int = 500  # cap on |labeled| + budget clusters (the authors' MAX_NUM_CLUSTERS)
    knn: int = 20  # neighbours in the typicality estimate (authors: at most members left // 2)
    # authors: clusters of at most this many images are left out of the rotation (used here
    # only once the others run dry); suite: clusters smaller than this wait
    min_cluster_size: int = 5
    chunk_size: int = chunk_size_option()  # `baselines.chunk_size`, shared with core-set
    variant: str = "authors"  # `authors` or `suite` (module docstring)
    kmeans: str = "suite"  # `suite` or `authors` (KMEANS_SETTINGS); written only when set

    def __post_init__(self) -> None:
        for name, what in (
            ("max_clusters", "clusters"),
            ("knn", "neighbours"),
            ("min_cluster_size", "images per cluster"),
        ):
            check_at_least(f"typiclust_{name}", getattr(self, name), 1, what)
        check_chunk_size(self.chunk_size)
        if self.kmeans not in KMEANS_SETTINGS:
            raise SpecError(
                f"spec key 'baselines.typiclust_kmeans' is {self.kmeans!r}; "
                f"valid values: {sorted(KMEANS_SETTINGS)}"
            )
        if self.variant not in VARIANTS:
            raise SpecError(
                f"spec key 'baselines.typiclust_variant' is {self.variant!r}; "
                f"valid values: {sorted(VARIANTS)}"
            )


Picker = Callable[[TypiClustOptions, torch.Tensor, np.ndarray, np.ndarray, int], np.ndarray]


def _authors(o: TypiClustOptions, feats, labels, is_lab, budget) -> np.ndarray:
    return authors_picks(feats, labels, is_lab, budget, o.knn, o.min_cluster_size, o.chunk_size)


def _suite(o: TypiClustOptions, feats, labels, is_lab, budget) -> np.ndarray:
    typ = typicality(feats, labels, o.knn, o.chunk_size)
    return typiclust_picks(labels, typ, is_lab, budget, o.min_cluster_size)


VARIANTS: dict[str, Picker] = {"authors": _authors, "suite": _suite}


@register_strategy("typiclust")
class TypiClustStrategy(Strategy):
    """Low-budget strategy: typical images from uncovered clusters of |labeled| + budget."""

    options_type, option_prefix = TypiClustOptions, "typiclust_"
    score = ScoreKind(
        "pick_order",
        "TypiClust's visits of the least covered clusters: the step at which the image was chosen (1: first)",
        higher_first=False,
    )

    def select(self, ctx: QueryContext, budget: int) -> Picks:
        o = self.options
        cands = ctx.pool.candidates
        feats = torch.nn.functional.normalize(ctx.embeddings(cands), dim=1)
        is_lab = np.isin(cands, ctx.pool.labeled)
        n_clusters = min(int(is_lab.sum()) + budget, o.max_clusters, len(cands))
        labels = cluster(
            feats.cpu().numpy(), n_clusters, ctx.derived_seed(_TYPICLUST_PURPOSE) % 2**31, o.kmeans
        )
        ctx.stats["clusters"] = n_clusters
        picked = VARIANTS[o.variant](o, feats, labels, is_lab, budget)
        return Picks(cands[picked], np.arange(1.0, len(picked) + 1))
