"""Recommendations: item-based collaborative filtering (cosine similarity between
products over a sparse member x product matrix), top-N unseen products per member,
evaluated by hit rate at N on a time holdout against a popularity baseline.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

TOP_N = 10
NEIGHBOURS = 50  # similarities kept per product (the rest are noise and memory)
CHUNK = 2000  # members scored per block (a dense block of CHUNK x products floats) ...
DENSE_CELLS = 4_000_000  # ... and at most this many cells (32 MB): 1,739 rows at 2,300 products


@dataclass
class Interactions:
    matrix: sparse.csr_matrix  # members x items, 1 = bought
    members: np.ndarray
    items: np.ndarray


def interactions(
    pairs: pd.DataFrame, items: np.ndarray | None = None, member_col: str = "member_id", item_col: str = "sku"
) -> Interactions:
    """Binary member x item matrix; with `items`, columns follow that catalogue (unknown
    items dropped) so a holdout lines up with the training matrix."""
    pairs = pairs[[member_col, item_col]].dropna().astype(str).drop_duplicates()
    if items is None:
        items = np.unique(pairs[item_col].to_numpy())
    else:
        pairs = pairs[pairs[item_col].isin(items)]
    members, m_codes = np.unique(pairs[member_col].to_numpy(), return_inverse=True)
    i_codes = np.searchsorted(items, pairs[item_col].to_numpy())
    m = sparse.csr_matrix((np.ones(len(pairs)), (m_codes, i_codes)), shape=(len(members), len(items)))
    m.data[:] = 1.0
    return Interactions(m, members, np.asarray(items))


def item_similarity(x: sparse.csr_matrix, neighbours: int = NEIGHBOURS) -> sparse.csr_matrix:
    """Cosine similarity between item columns, diagonal removed, top `neighbours` per item."""
    x = sparse.csc_matrix(x, dtype=float)
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=0)).ravel())
    inv = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    xn = x @ sparse.diags(inv)
    sim = (xn.T @ xn).tocsr()
    sim.setdiag(0.0)
    sim.eliminate_zeros()
    if neighbours:
        rows, cols, vals = [], [], []
        for i in range(sim.shape[0]):  # per item (thousands), not per member or row
            start, end = sim.indptr[i], sim.indptr[i + 1]
            if end - start > neighbours:
                keep = start + np.argpartition(-sim.data[start:end], neighbours)[:neighbours]
            else:
                keep = np.arange(start, end)
            rows.append(np.full(len(keep), i))
            cols.append(sim.indices[keep])
            vals.append(sim.data[keep])
        sim = (
            sparse.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=sim.shape)
            if rows
            else sim
        )
    return sim


def top_n(scores: np.ndarray, seen: sparse.csr_matrix, n: int = TOP_N) -> tuple[np.ndarray, np.ndarray]:
    """Indices and scores of the `n` best unseen items per row (ties by item order)."""
    scores = np.array(scores, dtype=float, copy=True)
    rows, cols = seen.nonzero()
    scores[rows, cols] = -np.inf
    n = min(n, scores.shape[1])
    part = np.argpartition(-scores, n - 1, axis=1)[:, :n]
    part_scores = np.take_along_axis(scores, part, axis=1)
    order = np.argsort(-part_scores, axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1), np.take_along_axis(part_scores, order, axis=1)


def block_rows(items: int) -> int:
    """Members per dense scoring block: CHUNK, fewer for a big catalogue (rows are scored
    independently, so the block size never changes a result)."""
    return max(1, min(CHUNK, DENSE_CELLS // max(items, 1)))


@dataclass
class ItemCF:
    similarity: sparse.csr_matrix
    items: np.ndarray
    popularity: np.ndarray  # training purchasers per item (tie-break and baseline)

    def recommend(self, history: sparse.csr_matrix, n: int = TOP_N) -> tuple[np.ndarray, np.ndarray]:
        """Top-n unseen items for each row of `history` (members x self.items)."""
        idx_parts, score_parts = [], []
        tiny = self.popularity / (self.popularity.max() * 1e6 if self.popularity.max() > 0 else 1.0)
        rows = block_rows(len(self.items))
        for start in range(0, history.shape[0], rows):
            block = history[start : start + rows]
            scores = np.asarray((block @ self.similarity).todense()) + tiny[None, :]
            idx, sc = top_n(scores, block, n)
            idx_parts.append(idx)
            score_parts.append(sc)
        if not idx_parts:
            return np.empty((0, n), dtype=int), np.empty((0, n))
        return np.vstack(idx_parts), np.vstack(score_parts)


def fit_item_cf(train: Interactions, neighbours: int = NEIGHBOURS) -> ItemCF:
    popularity = np.asarray(train.matrix.sum(axis=0)).ravel()
    return ItemCF(item_similarity(train.matrix, neighbours), train.items, popularity)


def popularity_recommend(popularity: np.ndarray, history: sparse.csr_matrix, n: int = TOP_N) -> np.ndarray:
    """Most popular unseen items per row, in dense blocks of `block_rows` rows."""
    rows = block_rows(history.shape[1])
    parts = [
        top_n(
            np.broadcast_to(popularity.astype(float), (min(rows, history.shape[0] - s), history.shape[1])),
            history[s : s + rows],
            n,
        )[0]
        for s in range(0, history.shape[0], rows)
    ]
    return np.vstack(parts) if parts else np.empty((0, min(n, history.shape[1])), dtype=int)


def hit_rate(recommended: np.ndarray, future: sparse.csr_matrix, history: sparse.csr_matrix) -> tuple[float, int]:
    """Share of members with at least one new (not previously bought) holdout purchase
    whose top-N list holds one of them; returns (hit rate, members evaluated)."""
    new = future - future.multiply(history)
    new.eliminate_zeros()
    eligible = np.flatnonzero(np.diff(new.indptr) > 0)
    if not len(eligible):
        return float("nan"), 0
    hits = 0
    rows = np.repeat(eligible, recommended.shape[1])
    flags = np.asarray(new[rows, recommended[eligible].ravel()]).ravel() > 0
    hits = flags.reshape(len(eligible), -1).any(axis=1).sum()
    return float(hits / len(eligible)), int(len(eligible))


def evaluate(
    train_pairs: pd.DataFrame, holdout_pairs: pd.DataFrame, n: int = TOP_N, neighbours: int = NEIGHBOURS
) -> dict:
    """Fit on `train_pairs`, compare hit rate at n on `holdout_pairs` with popularity."""
    train = interactions(train_pairs)
    model = fit_item_cf(train, neighbours)
    hold = interactions(holdout_pairs, items=train.items)
    # holdout rows aligned to the training members (others cannot be evaluated)
    common = np.intersect1d(train.members, hold.members)
    h_rows = np.searchsorted(hold.members, common)
    t_rows = np.searchsorted(train.members, common)
    history = train.matrix[t_rows]
    future = hold.matrix[h_rows]
    cf_idx, _ = model.recommend(history, n)
    pop_idx = popularity_recommend(model.popularity, history, n)
    cf_hit, evaluated = hit_rate(cf_idx, future, history)
    pop_hit, _ = hit_rate(pop_idx, future, history)
    return {
        "k": n,
        "hit_rate": cf_hit,
        "baseline": {"name": "most popular unseen products", "hit_rate": pop_hit},
        "members_evaluated": evaluated,
        "train_members": int(len(train.members)),
        "items": int(len(train.items)),
        "neighbours": neighbours,
    }


def beats_baseline(metrics: dict) -> tuple[bool, str]:
    m, b = metrics["hit_rate"], metrics["baseline"]["hit_rate"]
    ok = bool(np.isfinite(m) and np.isfinite(b) and m > b)
    return ok, f"hit rate@{metrics['k']} {m:.4f} vs popularity {b:.4f} on {metrics['members_evaluated']} members"
