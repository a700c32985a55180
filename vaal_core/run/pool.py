"""The label pool: which training-set images are labeled, which are still candidates."""

from __future__ import annotations

import zlib

import numpy as np

from ..words import count


def _stream(*keys: int | str) -> np.random.Generator:
    """A generator seeded by a tuple of ints/strings, stable across Python processes."""
    ints = [k if isinstance(k, int) else zlib.crc32(k.encode()) for k in keys]
    return np.random.default_rng(ints)


class Pool:
    """Boolean labeled mask over the candidate images; indices always refer to the full training set."""

    def __init__(self, candidates: np.ndarray, labeled: np.ndarray | None = None):
        self.candidates = np.sort(np.asarray(candidates, dtype=np.int64))
        if len(np.unique(self.candidates)) != len(self.candidates):
            raise ValueError("pool candidates hold duplicate indices")
        self._mask = np.zeros(len(self.candidates), dtype=bool)
        if labeled is not None:
            self.label(labeled)

    def _positions(self, idx: np.ndarray) -> np.ndarray:
        idx = np.asarray(idx, dtype=np.int64)
        pos = np.searchsorted(self.candidates, idx)
        ok = (pos < len(self.candidates)) & (
            self.candidates[np.minimum(pos, len(self.candidates) - 1)] == idx
        )
        if not ok.all():
            raise ValueError(f"indices not in the pool: {idx[~ok][:5].tolist()}")
        return pos

    def label(self, idx: np.ndarray) -> None:
        pos = self._positions(idx)
        if len(np.unique(pos)) != len(pos):
            raise ValueError("label() received duplicate indices")
        if self._mask[pos].any():
            raise ValueError(
                f"indices already labeled: {np.asarray(idx)[self._mask[pos]][:5].tolist()}"
            )
        self._mask[pos] = True

    @property
    def labeled(self) -> np.ndarray:
        return self.candidates[self._mask]

    @property
    def unlabeled(self) -> np.ndarray:
        return self.candidates[~self._mask]

    @property
    def n_labeled(self) -> int:
        return int(self._mask.sum())

    def __len__(self) -> int:
        return len(self.candidates)

    def state_dict(self) -> dict[str, np.ndarray]:
        return {"candidates": self.candidates.copy(), "labeled": self.labeled.copy()}

    @classmethod
    def from_state_dict(cls, state: dict[str, np.ndarray]) -> Pool:
        return cls(state["candidates"], state["labeled"])


def split_indices(
    dataset: str, n_train: int, pool_size: int | None, pool_seed: int, val_size: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """(candidates, validation) indices.

    The candidate pool (an optional fixed subsample) depends only on (dataset, pool_seed), and
    the validation split only on (dataset, seed): every strategy of a seed sees the same split.
    """
    all_idx = np.arange(n_train)
    if pool_size is not None and pool_size + val_size > n_train:
        raise ValueError(
            f"pool_size + val_size = {pool_size + val_size} exceeds the {count(n_train, 'training image')}"
        )
    if pool_size is not None:
        all_idx = np.sort(
            _stream("pool", dataset, pool_seed).permutation(n_train)[: pool_size + val_size]
        )
    perm = _stream("val", dataset, seed).permutation(all_idx)
    val = np.sort(perm[:val_size])
    return np.sort(perm[val_size:]), val


def initial_labeled(
    dataset: str,
    candidates: np.ndarray,
    n_initial: int,
    seed: int,
    allowed: np.ndarray | None = None,
) -> np.ndarray:
    """The initial labeled set: a function of (dataset, seed) only, shared by every strategy.

    `allowed` (a mask over `candidates`) restricts the draw, for the biased-initial-pool ablation.
    """
    if allowed is not None:
        candidates = candidates[allowed]
    if n_initial > len(candidates):
        raise ValueError(f"initial set of {n_initial} is larger than the pool of {len(candidates)}")
    return np.sort(
        _stream("initial", dataset, seed).choice(candidates, size=n_initial, replace=False)
    )


def noisy_labels(
    dataset: str,
    seed: int,
    cycle: int,
    new_idx: np.ndarray,
    train_labels: np.ndarray,
    fraction: float,
    num_classes: int,
) -> tuple[np.ndarray, np.ndarray]:
    """A noisy oracle: (flipped indices, their wrong labels) among the images new in `cycle`.

    `train_labels` are the true labels of the whole training set.
    round(fraction * n) of the n new images (sorted by index) get a label drawn uniformly from
    the other num_classes - 1 classes, never the true one. The draws depend on (dataset, seed,
    cycle) and n alone, so every strategy of a seed meets the same noise process.
    """
    new_idx = np.sort(np.asarray(new_idx, dtype=np.int64))
    k = int(round(fraction * len(new_idx)))
    if k == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    rng = _stream("noise", dataset, seed, cycle)
    pos = np.sort(rng.choice(len(new_idx), size=k, replace=False))
    shift = rng.integers(1, num_classes, size=k)  # 1..C-1: never back to the true class
    flipped = new_idx[pos]
    return flipped, (np.asarray(train_labels)[flipped] + shift) % num_classes


def indices_sha1(idx: np.ndarray) -> str:
    import hashlib

    return hashlib.sha1(np.sort(np.asarray(idx, dtype=np.int64)).tobytes()).hexdigest()


def test_subset(dataset: str, n_test: int, size: int | None) -> np.ndarray | None:
    """A fixed subsample of the test set (same for every seed and strategy), or None for all."""
    if size is None or size >= n_test:
        return None
    return np.sort(_stream("test", dataset).choice(n_test, size=size, replace=False))
