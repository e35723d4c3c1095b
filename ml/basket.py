"""Basket rules: FP-Growth (mlxtend) over a sparse one-hot basket matrix, with support,
confidence and lift; the top rules by lift feed cross-promotion.

Baskets arrive as (basket_id, item) pairs; the one-hot matrix is built with
scipy.sparse from integer codes (no per-row Python) as a sparse boolean DataFrame, and
mined with mlxtend's FP-Growth tree straight from its CSR matrix (`fpgrowth_sparse`:
mlxtend's own `fpgrowth` densifies the matrix once). Above `ml.sampling.MAX_BASKETS`
baskets the warehouse reader draws a seeded sample (`ml.behaviour.load_basket_sample`).

Every basket counts in the denominator N, one-item baskets included: they cannot
produce a rule, but support(X) = baskets containing X / all baskets, and confidence and
lift are ratios of those supports, so leaving them out would overstate support and
confidence (and misstate lift). One-item baskets cost the miner almost nothing: they
enter the FP-tree once per item, with their count.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
from scipy import sparse

# mlxtend's fpcommon runs warnings.simplefilter("always", DeprecationWarning) at import,
# for the whole process: every deprecation notice of every library (Dagster's, at startup)
# would print. The filter change stays inside this block.
with warnings.catch_warnings():
    from mlxtend.frequent_patterns import association_rules
    from mlxtend.frequent_patterns import fpcommon as fpc
    from mlxtend.frequent_patterns.fpgrowth import fpg_step

MIN_BASKETS = 20  # an itemset must occur in at least this many baskets
MIN_CONFIDENCE = 0.05
MAX_LEN = 3


def basket_matrix(
    pairs: pd.DataFrame, basket_col: str = "basket_id", item_col: str = "item", min_items: int = 1
) -> pd.DataFrame:
    """Sparse boolean basket x item DataFrame, one row per basket. Every basket is kept by
    default: one-item baskets cannot support a rule but count in the support denominator.
    `min_items` > 1 drops the baskets with fewer distinct items."""
    pairs = pairs[[basket_col, item_col]].dropna().drop_duplicates()
    if min_items > 1:
        sizes = pairs.groupby(basket_col)[item_col].transform("size")
        pairs = pairs[sizes >= min_items]
    baskets, basket_codes = np.unique(pairs[basket_col].astype(str).to_numpy(), return_inverse=True)
    items, item_codes = np.unique(pairs[item_col].astype(str).to_numpy(), return_inverse=True)
    m = sparse.csr_matrix(
        (np.ones(len(pairs), dtype=bool), (basket_codes, item_codes)), shape=(len(baskets), len(items)), dtype=bool
    )
    return pd.DataFrame.sparse.from_spmatrix(m, index=baskets, columns=items)


def _csr(onehot: pd.DataFrame) -> sparse.csr_matrix:
    if hasattr(onehot, "sparse"):
        return onehot.sparse.to_coo().tocsr()
    return sparse.csr_matrix(onehot.to_numpy(dtype=bool))


def fpgrowth_sparse(onehot: pd.DataFrame, min_support: float, max_len: int | None = None) -> pd.DataFrame:
    """mlxtend's `fpgrowth(onehot, min_support, use_colnames=True, max_len=max_len)`, step
    for step with mlxtend's own tree and recursion, except that the item supports are
    summed over the sparse matrix: mlxtend sums `df.values`, a dense baskets x items
    array (207,574 x 7,629 booleans = 1.5 GB at S=10; 500,000 x 30,000 = 15 GB at S=200).
    Same itemsets, same supports, same order."""
    n = len(onehot.index)
    if not 0.0 < min_support <= 1.0:
        raise ValueError(f"`min_support` must be a positive number within the interval `(0, 1]`. Got {min_support}.")
    colname_map = dict(enumerate(onehot.columns))
    itemsets = _csr(onehot)
    item_support = (np.asarray(itemsets.sum(axis=0)).reshape(-1) / float(n)).reshape(-1)
    items = np.nonzero(item_support >= min_support)[0]
    indices = item_support[items].argsort()
    rank = {item: i for i, item in enumerate(items[indices])}
    itemsets.eliminate_zeros()
    tree = _fp_tree(itemsets, rank, np.isin(np.arange(itemsets.shape[1]), items))
    minsup = math.ceil(min_support * n)
    generator = fpg_step(tree, minsup, colname_map, max_len, 0)
    return fpc.generate_itemsets(generator, None, None, min_support, n, colname_map)


def _fp_tree(itemsets: sparse.csr_matrix, rank: dict, frequent: np.ndarray) -> fpc.FPTree:
    """mlxtend's FP-tree of the baskets (rows), frequent items only, built in the same
    shape and node order as inserting every row in turn, with Python touching only the
    rows of 2+ frequent items: rows of one frequent item (one-item baskets, mostly) are
    counted per item with numpy and inserted once, at the row where the item first
    occurs alone, with their total count; rows with none only count at the root."""
    n = itemsets.shape[0]
    row_of = np.repeat(np.arange(n), np.diff(itemsets.indptr))
    hit = frequent[itemsets.indices]
    per_row = np.bincount(row_of[hit], minlength=n)
    lone_rows = np.nonzero(per_row == 1)[0]
    lone = hit & (per_row[row_of] == 1)  # the one frequent item of such a row
    lone_item = np.full(n, -1)
    lone_item[row_of[lone]] = itemsets.indices[lone]
    lone_counts = np.bincount(lone_item[lone_rows], minlength=itemsets.shape[1])
    _, first = np.unique(lone_item[lone_rows], return_index=True)
    first_lone = np.zeros(n, dtype=bool)
    first_lone[lone_rows[first]] = True
    tree = fpc.FPTree(rank)
    for i in np.nonzero((per_row >= 2) | first_lone)[0]:
        if first_lone[i]:
            item = int(lone_item[i])
            tree.insert_itemset([item], int(lone_counts[item]))
            continue
        nonnull = itemsets.indices[itemsets.indptr[i] : itemsets.indptr[i + 1]]
        itemset = [item for item in nonnull if item in rank]
        itemset.sort(key=rank.get, reverse=True)
        tree.insert_itemset(itemset)
    empty = int((per_row == 0).sum())
    if empty:
        tree.insert_itemset([], empty)
    return tree


def mine_rules(
    onehot: pd.DataFrame, min_baskets: int = MIN_BASKETS, min_confidence: float = MIN_CONFIDENCE, max_len: int = MAX_LEN
) -> tuple[pd.DataFrame, dict]:
    """Association rules (antecedents, consequents as sorted comma-joined strings).
    Supports are fractions of all `len(onehot)` baskets, one-item baskets included;
    `baskets` is the number of baskets holding the whole rule."""
    n = len(onehot)
    columns = [
        "antecedents",
        "consequents",
        "support",
        "confidence",
        "lift",
        "antecedent_support",
        "consequent_support",
        "baskets",
    ]
    stats = {
        "baskets": int(n),
        "multi_item_baskets": int((np.diff(_csr(onehot).indptr) >= 2).sum()) if n else 0,
        "items": int(onehot.shape[1]),
        "min_support": float("nan"),
        "frequent_itemsets": 0,
        "rules": 0,
        "rules_lift_above_1": 0,
    }
    if n == 0:
        return pd.DataFrame(columns=columns), stats
    min_support = max(min_baskets / n, 1e-6)
    stats["min_support"] = float(min_support)
    if min_support > 1.0:  # fewer baskets than an itemset needs: nothing is frequent
        return pd.DataFrame(columns=columns), stats
    itemsets = fpgrowth_sparse(onehot, min_support=min_support, max_len=max_len)
    stats["frequent_itemsets"] = int(len(itemsets))
    if itemsets.empty or (itemsets["itemsets"].map(len) > 1).sum() == 0:
        return pd.DataFrame(columns=columns), stats
    rules = association_rules(itemsets, num_itemsets=n, metric="confidence", min_threshold=min_confidence)
    out = pd.DataFrame(
        {
            "antecedents": rules["antecedents"].map(lambda s: ",".join(sorted(s))),
            "consequents": rules["consequents"].map(lambda s: ",".join(sorted(s))),
            "support": rules["support"].astype(float),
            "confidence": rules["confidence"].astype(float),
            "lift": rules["lift"].astype(float),
            "antecedent_support": rules["antecedent support"].astype(float),
            "consequent_support": rules["consequent support"].astype(float),
        }
    )
    out["baskets"] = np.rint(out["support"] * n).astype("int64")
    # Ties broken by the rule's text: mlxtend's order among equal rules follows Python's
    # per-process string hashing (PYTHONHASHSEED), so without it the top rules could differ
    # from one run to the next.
    out = out.sort_values(
        ["lift", "support", "antecedents", "consequents"], ascending=[False, False, True, True], kind="stable"
    ).reset_index(drop=True)
    stats["rules"] = int(len(out))
    stats["rules_lift_above_1"] = int((out["lift"] > 1).sum())
    return out, stats


def holdout_lift(rules: pd.DataFrame, onehot: pd.DataFrame) -> pd.Series:
    """Each rule's lift re-measured on other baskets (a later period): a rule that only
    fitted noise falls back to about 1 there."""
    cols = {c: i for i, c in enumerate(onehot.columns)}
    m = sparse.csc_matrix(onehot.sparse.to_coo()) if len(onehot) else None
    n = len(onehot)

    def support(items: str) -> float:
        if m is None:
            return 0.0
        idx = [cols.get(i) for i in items.split(",")]
        if any(i is None for i in idx):
            return 0.0
        hit = np.ones(n, dtype=bool)
        for i in idx:
            hit &= m[:, i].toarray().ravel()
        return float(hit.mean())

    out = []
    for a, c in zip(rules["antecedents"], rules["consequents"], strict=True):
        sa, sc, sac = support(a), support(c), support(f"{a},{c}")
        out.append(sac / (sa * sc) if sa > 0 and sc > 0 else float("nan"))
    return pd.Series(out, index=rules.index, dtype=float)


MIN_RULES = 5


def beats_baseline(stats_by_level: dict, min_rules: int = MIN_RULES) -> tuple[bool, str]:
    """Every level yields at least `min_rules` rules with lift > 1 (the independence
    baseline is lift 1), and its top rules keep a mean lift > 1 on the holdout baskets."""
    parts, ok = [], True
    for level, s in stats_by_level.items():
        good = s["rules_lift_above_1"] >= min_rules
        hold = s.get("holdout_mean_lift_top")
        good = good and hold is not None and np.isfinite(hold) and hold > 1.0
        ok = ok and good
        parts.append(
            f"{level}: {s['rules_lift_above_1']} rules with lift > 1, "
            f"top rules' holdout lift {hold if hold is None else round(hold, 3)}"
        )
    return ok, "; ".join(parts)
