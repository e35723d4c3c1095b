"""Deterministic training samples for a big mall (issue 18, a million members).

Training samples only above a cap, so every mall up to the cap trains on everything
(the demo mall, S=1, and S=10 are far below every cap: their results do not change).
Above it, a seeded, reproducible subset of the unit the model learns from (baskets,
members, feature rows) is kept; scoring always covers every member. Every trainer
reports what it used in its metrics under ``"sample"`` (`describe`), which the registry
stores in `metrics.json`, the model card shows and `mallcrm ml train` prints.

Two ways to draw the same kind of sample:

* `sample_indices`: row positions of an in-memory frame (numpy, seeded);
* `hash_order_sql`: an ORDER BY key for DuckDB, so a query returns only the sampled
  keys and the rest never reaches Python (md5 of the key and the seed: stable across
  runs, machines and DuckDB versions).
"""

from __future__ import annotations

import numpy as np

SEED = 18  # one seed for every sample (the number); change it to draw another sample

# The caps: a model trains on everything up to these, on a seeded sample above them.
# Sizes measured in bench warehouses (S=1 / S=10; S=200 has about 20x S=10):
#   baskets with 2+ distinct items, SKU level        22,979 / 207,574
#   baskets with 2+ distinct items, category level   17,488 / 156,479
#   members with purchases (segments, recommendations) 2,494 / 22,867
#   churn training rows (3 cutoffs x active members)    5,605 / 53,276
#   CLV customers (BG/NBD fit at the score cutoff)     ~2,500 / ~23,000
# so S=1 and S=10 train on everything (their results do not change); S=200 samples.
MAX_BASKETS = 500_000  # FP-Growth: baskets (one-item baskets included: they count in N) per mining run
MAX_RECOMMEND_MEMBERS = 200_000  # item CF: members whose histories fit the item similarities
MAX_SEGMENT_MEMBERS = 100_000  # K-means: members the clusters are fitted on (all are scored)
MAX_TRAIN_ROWS = 200_000  # churn and the CLV challenger: labelled feature rows per fit
MAX_CLV_CUSTOMERS = 250_000  # BG/NBD + Gamma-Gamma: customers the 7 parameters are fitted on


def describe(unit: str, total: int, used: int, cap: int, seed: int = SEED) -> dict:
    """The `"sample"` entry of a model's metrics."""
    return {
        "unit": unit,
        "total": int(total),
        "used": int(used),
        "cap": int(cap),
        "sampled": bool(used < total),
        "fraction": float(used / total) if total else 1.0,
        "seed": int(seed),
    }


def sample_indices(n: int, cap: int, seed: int = SEED) -> np.ndarray | None:
    """Sorted positions of a seeded sample of `cap` out of `n` rows; None when n <= cap
    (use everything, in the original order)."""
    if n <= cap:
        return None
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=cap, replace=False))


def hash_order_sql(key_sql: str, seed: int = SEED) -> str:
    """ORDER BY expression of a seeded pseudo-random order of `key_sql` (a VARCHAR)."""
    return f"md5(cast({key_sql} as varchar) || '|{int(seed)}')"


def note(sample: dict) -> str:
    """'' when nothing was sampled, else a short phrase for the CLI line."""
    if not sample.get("sampled"):
        return ""
    if "by_level" in sample:  # the basket model: one sample per level
        return ", ".join(f"{level} {note(s)}" for level, s in sample["by_level"].items() if s.get("sampled"))
    return f"sample of {sample['used']:,} of {sample['total']:,} {sample['unit']} (cap {sample['cap']:,})"
