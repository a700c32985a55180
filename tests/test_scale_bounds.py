"""Bounded by design (docs/scale.md): every strategy's work at ImageNet size stays linear in the
pool, and each chunked or factored form gives the picks of the direct form it replaces (checked
here on small pools, where the direct form fits). The remedies for k-center greedy are off by
default, leave the exact picks alone, and enter the spec hash only when set."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from baselines import scores
from baselines.badge import badge_seeding, gradient_factors
from baselines.coreset import (
    CoreSetOptions,
    candidate_rows,
    covering_radius,
    k_center_greedy,
    project,
    reduced_pool,
)
from baselines.scores import (
    bald_score,
    entropy_score,
    least_confidence_score,
    margin_score,
    variation_ratio,
)
from baselines.typiclust import KMEANS_SETTINGS, TypiClustOptions, authors_typicality, cluster
from tests.helpers import tiny_spec
from vaal_core.errors import SpecError
from vaal_core.run.loop import preflight
from vaal_core.strategies import make_strategy


def _probs(n: int, c: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, c, generator=g).mul(3).softmax(1)


# ---------------------------------------------------------------- softmax scores in row blocks
@pytest.mark.parametrize("score", [entropy_score, margin_score, least_confidence_score])
def test_row_blocks_give_the_scores_of_one_call(monkeypatch, score):
    p = _probs(103, 9)
    whole = score(p)
    monkeypatch.setattr(scores, "ROWS", 10)  # 11 blocks, the last one short
    assert torch.equal(score(p), whole)
    # the blocked form really ran: its pieces are ROWS rows each
    seen = []
    monkeypatch.setattr(scores, "_margin", lambda q: seen.append(len(q)) or q[:, 0])
    scores.margin_score(p)
    assert seen == [10] * 10 + [3]


def test_bald_in_row_blocks_and_three_dim_passes_in_one_call(monkeypatch):
    passes = torch.stack([_probs(50, 6, s) for s in range(4)])  # [T, N, C]
    mean, exp_h = passes.mean(0), entropy_score(passes).mean(0)
    whole = bald_score(mean, exp_h)
    monkeypatch.setattr(scores, "ROWS", 7)
    assert torch.equal(bald_score(mean, exp_h), whole)
    assert entropy_score(passes).shape == (4, 50)


def test_the_mc_summary_entropy_runs_in_row_blocks():
    # max-entropy reads MCProbabilities.entropy, which is passes.entropy on the [N, C] mean
    from vaal_core.tasks.classification import MCProbabilities
    from vaal_core.train.passes import entropy

    mean = _probs(103, 9)
    assert torch.equal(entropy(mean, rows=10), entropy(mean))
    assert torch.equal(MCProbabilities(mean, torch.zeros(103), 4).entropy, entropy(mean))
    blocks = []
    real = torch.special.entr
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(torch.special, "entr", lambda x: blocks.append(len(x)) or real(x))
        entropy(mean, rows=10)
    assert blocks == [10] * 10 + [3]


# ---------------------------------------------------------------- ensemble variation ratio
def _variation_ratio_with_table(votes: torch.Tensor, classes: int) -> torch.Tensor:
    """The textbook form: an N x classes count table."""
    m, n = votes.shape
    counts = torch.zeros(n, classes, dtype=torch.long)
    counts.scatter_add_(1, votes.t().long(), torch.ones_like(votes.t(), dtype=torch.long))
    return 1.0 - counts.max(1).values.double() / m


def test_variation_ratio_equals_the_count_table_form():
    g = torch.Generator().manual_seed(0)
    for m, classes in [(2, 3), (5, 4), (7, 10)]:
        votes = torch.randint(0, classes, (m, 400), generator=g)
        assert torch.equal(
            variation_ratio(votes, classes), _variation_ratio_with_table(votes, classes)
        )


def test_variation_ratio_never_builds_a_table_of_classes():
    # 10^12 classes: a count table of 4 x 10^12 int64 could not be allocated
    votes = torch.tensor([[3, 10**11, 5, 5], [3, 7, 5, 6], [4, 10**11, 5, 6]])
    assert variation_ratio(votes, 10**12).tolist() == pytest.approx([1 / 3, 1 / 3, 0.0, 1 / 3])


# ---------------------------------------------------------------- BADGE without g
def _kmeanspp_on_materialised(g: torch.Tensor, budget: int, gen: torch.Generator) -> list[int]:
    """k-means++ seeding on the N x (C d) embeddings themselves, drawing as badge_seeding does."""
    sq = (g**2).sum(1)
    chosen = [int(torch.argmax(sq))]
    min_d = ((g - g[chosen[0]]) ** 2).sum(1)
    min_d[chosen[0]] = 0.0
    while len(chosen) < budget:
        cum = torch.cumsum(min_d, 0)
        u = float(torch.rand((), generator=gen, dtype=torch.float64)) * float(cum[-1])
        j = min(int(torch.searchsorted(cum, torch.tensor([u]), right=True)[0]), len(g) - 1)
        chosen.append(j)
        min_d = torch.minimum(min_d, ((g - g[j]) ** 2).sum(1))
        min_d[j] = 0.0
    return chosen


def test_badge_factored_picks_equal_the_materialised_embedding_picks():
    probs = _probs(60, 5, 3).double()
    h = torch.randn(60, 8, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    a = gradient_factors(probs)
    g = torch.einsum("nc,nd->ncd", a, h).reshape(60, -1)  # the N x C x d BADGE never stores
    ours = badge_seeding(a, h, 20, torch.Generator().manual_seed(9))
    assert ours.tolist() == _kmeanspp_on_materialised(g, 20, torch.Generator().manual_seed(9))


# ---------------------------------------------------------------- suggestive annotation, lazily
def _facility_location_direct(cand, pool, k):
    """The textbook greedy on the whole K x N cosine matrix (what the lazy form must equal)."""
    c = torch.nn.functional.normalize(cand.double(), dim=1)
    u = torch.nn.functional.normalize(pool.double(), dim=1)
    sim, cover, picks = c @ u.T, torch.full((len(u),), -1.0, dtype=torch.float64), []
    for _ in range(min(k, len(c))):
        gain = torch.maximum(sim, cover).sum(1)
        gain[picks] = -np.inf
        j = int(torch.argmax(gain))
        picks.append(j)
        cover = torch.maximum(cover, sim[j])
    return picks


@pytest.mark.parametrize("seed", range(4))
def test_lazy_facility_location_picks_equal_the_whole_matrix_picks(seed, monkeypatch):
    from baselines import suggestive

    g = torch.Generator().manual_seed(seed)
    pool = torch.randn(300, 12, generator=g) + torch.randn(6, 12, generator=g).repeat(50, 1)
    cand = pool[torch.randperm(300, generator=g)[:80]]
    cand = torch.cat([cand, cand[:5]])  # exact duplicates: ties go to the lower position
    monkeypatch.setattr(suggestive, "BLOCK_BYTES", 8 * 300 * 7)  # first gains in blocks of 7
    stats: dict = {}
    lazy = suggestive.greedy_representative(cand, pool, 40, stats).tolist()
    assert lazy == _facility_location_direct(cand, pool, 40)
    # lazily: far fewer row evaluations than the direct form's K per pick
    assert len(cand) <= stats["representative_evaluations"] < len(cand) * 40 // 4


# ---------------------------------------------------------------- TypiClust typicality in blocks
def test_authors_typicality_in_row_blocks_equals_the_full_distance_matrix():
    x = torch.randn(45, 6, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    d = torch.cdist(x, x).square()
    d.fill_diagonal_(float("inf"))
    k = min(20, 45 // 2)
    direct = 1.0 / (d.topk(k, dim=1, largest=False).values.mean(1) + 1e-5)
    assert np.allclose(authors_typicality(x, 20, chunk=8), direct.numpy(), rtol=1e-12)


# ---------------------------------------------------------------- k-center remedies
def _case(n=400, d=16, labeled=20):
    x = torch.randn(n, d, generator=torch.Generator().manual_seed(5))
    is_lab = np.zeros(n, dtype=bool)
    is_lab[np.random.default_rng(0).choice(n, labeled, replace=False)] = True
    return x, is_lab


def test_remedies_off_by_default_leave_the_exact_algorithm_untouched():
    x, is_lab = _case()
    rows, feats, lab = reduced_pool(x, is_lab, 30, CoreSetOptions(), seed=1)
    assert feats is x and (rows == np.arange(len(x))).all() and (lab == is_lab).all()
    assert project(x, 16, 0) is x and project(x, 0, 0) is x


def test_candidate_subset_keeps_every_labeled_row_and_picks_only_among_drawn_rows():
    x, is_lab = _case()
    rows = candidate_rows(is_lab, budget=30, candidates=100, seed=7)
    assert len(rows) == 20 + 100 and is_lab[rows].sum() == 20 and (np.diff(rows) > 0).all()
    assert (candidate_rows(is_lab, 30, 100, 7) == rows).all()  # seeded
    assert not (candidate_rows(is_lab, 30, 100, 8) == rows).all()
    assert len(candidate_rows(is_lab, budget=150, candidates=100, seed=7)) == 20 + 150
    assert len(candidate_rows(is_lab, budget=30, candidates=10**6, seed=7)) == len(x)
    sub, feats, lab = reduced_pool(x, is_lab, 30, CoreSetOptions(candidates=100), seed=7)
    picks = sub[k_center_greedy(feats, lab, 30)]
    assert set(picks) <= set(rows[~is_lab[rows]])
    # picks among a subset cover the pool no better than the exact picks (the 2-approximation's
    # objective): the price of the remedy, measured at scale in docs/scale.md
    exact = k_center_greedy(x, is_lab, 30)
    lab_rows = np.flatnonzero(is_lab)
    exact_r = covering_radius(x, np.concatenate([lab_rows, exact]))
    assert covering_radius(x, np.concatenate([lab_rows, picks])) >= exact_r


def test_projection_is_seeded_and_keeps_distances_roughly():
    x, _ = _case(n=50, d=256)
    p = project(x, 64, 3)
    assert p.shape == (50, 64) and torch.equal(p, project(x, 64, 3))
    ratio = torch.pdist(p) / torch.pdist(x)
    assert 0.6 < float(ratio.min()) and float(ratio.max()) < 1.4  # JL at 64 dims, 50 points


def test_remedy_options_are_spec_keys_hashed_only_when_set():
    plain = tiny_spec()
    subset = tiny_spec(baselines={"coreset_candidates": 5000, "coreset_projection": 64})
    assert "coreset_candidates" not in plain.to_dict()["baselines"]
    assert subset.hash() != plain.hash()
    opts = make_strategy("coreset", subset).options
    assert (opts.candidates, opts.projection) == (5000, 64)
    assert make_strategy("coreset", plain).options == CoreSetOptions()
    with pytest.raises(SpecError, match=r"'baselines.coreset_candidates' must be >= 0"):
        preflight(tiny_spec(baselines={"coreset_candidates": -1}), "random")


# ---------------------------------------------------------------- TypiClust's k-means settings
def test_kmeans_settings_are_an_option_hashed_only_when_set():
    assert TypiClustOptions().kmeans == "suite"
    assert "typiclust_kmeans" not in tiny_spec().to_dict()["baselines"]
    authors = tiny_spec(baselines={"typiclust_kmeans": "authors"})
    assert authors.hash() != tiny_spec().hash()
    assert make_strategy("typiclust", authors).options.kmeans == "authors"
    with pytest.raises(SpecError, match="'baselines.typiclust_kmeans' is 'faiss'; valid values"):
        preflight(tiny_spec(baselines={"typiclust_kmeans": "faiss"}), "random")


def test_authors_kmeans_uses_their_batch_of_5000(monkeypatch):
    import sklearn.cluster

    made = []

    class Spy(sklearn.cluster.MiniBatchKMeans):
        def __init__(self, **kw):
            made.append(kw)
            super().__init__(**kw)

    monkeypatch.setattr(sklearn.cluster, "MiniBatchKMeans", Spy)
    x = np.random.default_rng(0).normal(size=(300, 4)).astype(np.float32)
    labels = cluster(x, 60, seed=0, settings="authors")
    assert len(labels) == 300 and made[0]["batch_size"] == 5000 and made[0]["n_init"] == 3
    assert KMEANS_SETTINGS["suite"][1]["batch_size"] == 4096


# ---------------------------------------------------------------- VAAL's scores, gathered once
def test_vaal_scores_gathered_into_one_tensor_equal_the_joined_batches():
    from vaal_core.vaal.game import gather_rows

    g = torch.Generator().manual_seed(0)
    batches = [torch.rand(n, generator=g, dtype=torch.float64) for n in (4, 4, 3)]
    out = gather_rows(iter(batches), 11, torch.device("cpu"))
    assert out.dtype == torch.float64 and torch.equal(out, torch.cat(batches))
    assert gather_rows(iter([]), 0, torch.device("cpu")).shape == (0,)
    with pytest.raises(ValueError, match="10 rows given for 11"):
        gather_rows(iter(batches[:2] + [batches[2][:2]]), 11, torch.device("cpu"))


# ---------------------------------------------------------------- TypiClust, kept up to date
def _authors_picks_recomputed(feats, labels, is_labeled, budget, knn, min_size):
    """The authors' loop as written: the visited cluster's typicality recomputed whole."""
    from baselines.typiclust import cluster_order, rotation

    ids, sizes = cluster_order(labels, is_labeled)
    members = {int(c): np.flatnonzero((labels == c) & ~is_labeled) for c in ids}
    left = {c: len(m) for c, m in members.items()}
    visits, picks = rotation([ids[sizes > min_size], ids[sizes <= min_size]], left), []
    for _ in range(budget):
        c = next(visits)
        rows = members[c]
        best = int(np.argmax(authors_typicality(feats[torch.as_tensor(rows)], knn, 64)))
        picks.append(int(rows[best]))
        members[c] = np.delete(rows, best)
        left[c] -= 1
    return picks


@pytest.mark.parametrize("seed", range(3))
def test_typicality_kept_up_to_date_picks_as_the_whole_recomputation(seed):
    from baselines.typiclust import authors_picks

    g = torch.Generator().manual_seed(seed)
    sizes = [300, 120, 60, 4]  # K shrinks below knn as the small clusters run dry
    labels = np.repeat(np.arange(len(sizes)), sizes)
    centres = torch.randn(len(sizes), 16, generator=g) * 3
    feats = centres[torch.as_tensor(labels)] + torch.randn(len(labels), 16, generator=g)
    is_lab = np.random.default_rng(seed).random(len(labels)) < 0.05
    direct = _authors_picks_recomputed(feats, labels, is_lab, 250, 20, 5)
    assert authors_picks(feats, labels, is_lab, 250, 20, 5, chunk=64).tolist() == direct
