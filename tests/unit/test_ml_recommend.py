"""ml/recommend.py: item-based CF on a sparse matrix, unseen top-N, hit rate vs popularity."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse

from ml import recommend


def test_similar_items_are_recommended_and_bought_ones_excluded():
    pairs = pd.DataFrame(
        {"member_id": ["m1", "m1", "m2", "m2", "m3", "m3", "m4"], "sku": ["a", "b", "a", "b", "c", "d", "a"]}
    )
    data = recommend.interactions(pairs)
    model = recommend.fit_item_cf(data)
    sim = model.similarity.toarray()
    assert sim[0, 1] > 0.8 and sim[0, 2] == 0 and np.allclose(np.diag(sim), 0)
    idx, scores = model.recommend(data.matrix, n=2)
    m4 = list(data.members).index("m4")
    assert data.items[idx[m4, 0]] == "b"  # bought a -> b (bought with a), never a again
    assert "a" not in data.items[idx[m4]]
    m1 = list(data.members).index("m1")
    assert not set(data.items[idx[m1]]) & {"a", "b"}


def test_hit_rate_counts_new_purchases_only():
    history = sparse.csr_matrix(np.array([[1, 0, 0], [0, 1, 0]], dtype=float))
    future = sparse.csr_matrix(np.array([[1, 1, 0], [0, 1, 0]], dtype=float))  # m2 bought nothing new
    rate, n = recommend.hit_rate(np.array([[1], [2]]), future, history)
    assert (rate, n) == (1.0, 1)
    rate, n = recommend.hit_rate(np.array([[2], [0]]), future, history)
    assert (rate, n) == (0.0, 1)


def _taste_world(seed: int, members: int = 400, groups: int = 5, per_group: int = 20):
    """Members buy mostly from their taste group's products; group 0 is the biggest
    (so popularity favours it) — the known signal item-CF should exploit."""
    rng = np.random.default_rng(seed)
    taste = rng.choice(groups, members, p=[0.4, 0.15, 0.15, 0.15, 0.15])

    def period(n):
        rows = []
        for m in range(members):
            own = rng.random(n) < 0.85
            g = np.where(own, taste[m], rng.integers(0, groups, n))
            sku = g * per_group + rng.integers(0, per_group, n)
            rows += [(f"m{m}", f"p{s:03d}") for s in sku]
        return pd.DataFrame(rows, columns=["member_id", "sku"])

    return period(8), period(3)


def test_item_cf_beats_popularity_on_a_time_holdout_with_taste_signal():
    train, holdout = _taste_world(7)
    metrics = recommend.evaluate(train, holdout, n=10)
    ok, detail = recommend.beats_baseline(metrics)
    assert ok, detail
    assert metrics["hit_rate"] > metrics["baseline"]["hit_rate"] + 0.1
    assert metrics["members_evaluated"] > 300


def test_without_signal_item_cf_does_not_beat_popularity_by_much():
    rng = np.random.default_rng(1)

    def rows(n):
        members = [f"m{i}" for i in range(300) for _ in range(n)]
        return pd.DataFrame({"member_id": members, "sku": [f"p{s:03d}" for s in rng.integers(0, 100, 300 * n)]})

    metrics = recommend.evaluate(rows(8), rows(3), n=10)
    assert metrics["hit_rate"] < metrics["baseline"]["hit_rate"] + 0.08
