"""Customer segmentation: K-means on standardized behavioural shares, k by silhouette,
clusters named by rules over their centroid profiles (never by cluster id).

Pure functions over pandas frames; `ml.behaviour` reads the warehouse and writes back.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from ml import sampling

# Feature groups of ml_features.ml_member_segment_features (the share_<category> columns
# are found by prefix, so a mall with other categories needs no code change).
TIME_OF_DAY = ["share_morning", "share_afternoon", "share_evening"]
DISCOUNT = ["discount_share", "coupon_order_share"]
FAMILY = ["in_family_group"]

# Name of a cluster whose strongest trait is spending in a category.
CATEGORY_NAMES = {
    "fashion": "fashion lovers",
    "beauty": "beauty fans",
    "food_beverage": "foodies",
    "kids": "family shoppers",
    "sports": "sports fans",
    "electronics": "tech buyers",
    "home": "home makers",
    "supermarket": "grocery shoppers",
    "entertainment": "fun seekers",
    "jewelry": "jewelry buyers",
}
TRAIT_NAMES = {
    "discount_share": "discount seekers",
    "coupon_order_share": "discount seekers",
    "in_family_group": "family shoppers",
    "share_morning": "morning shoppers",
    "share_afternoon": "afternoon shoppers",
    "share_evening": "evening shoppers",
}
# A trait names a cluster when its centroid sits at least this many population standard
# deviations above the mean; a cluster with no such trait is "all-round shoppers".
TRAIT_Z = 0.5
DEFAULT_K_RANGE = range(3, 11)
SILHOUETTE_SAMPLE = 2000


def feature_columns(frame: pd.DataFrame) -> list[str]:
    shares = sorted(c for c in frame.columns if c.startswith("share_") and c not in TIME_OF_DAY)
    return shares + [c for c in TIME_OF_DAY + DISCOUNT + FAMILY if c in frame.columns]


def trait_name(feature: str) -> str:
    if feature in TRAIT_NAMES:
        return TRAIT_NAMES[feature]
    category = feature.removeprefix("share_")
    return CATEGORY_NAMES.get(category, f"{category.replace('_', ' ')} lovers")


def name_clusters(profile_z: pd.DataFrame, threshold: float = TRAIT_Z) -> list[str]:
    """One name per row of `profile_z` (cluster centroids in population z-scores).

    The name is that of the cluster's strongest trait above `threshold`; when two
    clusters share it, the second strongest trait is added ("fashion lovers, evening
    shoppers"), then the cluster's rank as a last resort, so names stay unique.
    """
    ranked = []
    for _, row in profile_z.iterrows():
        traits = [f for f in row.sort_values(ascending=False).index if row[f] >= threshold]
        names = list(dict.fromkeys(trait_name(f) for f in traits))  # dedupe, keep order
        ranked.append(names or ["all-round shoppers"])
    first = [n[0] for n in ranked]
    out = []
    for names in ranked:
        name = names[0]
        if first.count(name) > 1 and len(names) > 1:
            name = f"{name}, {names[1]}"
        out.append(name)
    for name in list(dict.fromkeys(out)):  # still clashing: number them in cluster order
        clash = [j for j, n in enumerate(out) if n == name]
        if len(clash) > 1:
            for rank, j in enumerate(clash, start=1):
                out[j] = f"{name} {rank}"
    return out


def describe(row: pd.Series, means: pd.Series, top: int = 3) -> str:
    """'share_fashion 0.61 vs 0.18; ...' for the cluster's strongest traits."""
    z = row.sort_values(ascending=False).index[:top]
    return "; ".join(f"{f} {means[f]:.2f}" for f in z)


@dataclass
class SegmentationModel:
    scaler: StandardScaler
    kmeans: KMeans
    features: list[str]
    names: list[str]
    profile: pd.DataFrame  # centroid means per cluster in original units (+ size)
    profile_z: pd.DataFrame

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return self.kmeans.predict(self.scaler.transform(_matrix(frame, self.features)))


def _matrix(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    return np.array(frame[columns].astype(float).fillna(0.0).to_numpy(), dtype=float, copy=True)


def _silhouette(x: np.ndarray, labels: np.ndarray, seed: int) -> float:
    if len(np.unique(labels)) < 2:
        return float("nan")
    size = min(len(x), SILHOUETTE_SAMPLE)
    return float(silhouette_score(x, labels, sample_size=size, random_state=seed))


def permuted(x: np.ndarray, seed: int = 0) -> np.ndarray:
    """Each column shuffled on its own: same marginals, no joint structure (the baseline)."""
    rng = np.random.default_rng(seed)
    return np.column_stack([rng.permutation(x[:, j]) for j in range(x.shape[1])])


def fit_segmentation(
    frame: pd.DataFrame, k_range=DEFAULT_K_RANGE, seed: int = 0, max_members: int | None = None
) -> tuple[SegmentationModel, dict]:
    """Fit K-means for each k, keep the best silhouette; returns the model and metrics
    (silhouette by k, and the same k's silhouette on column-permuted data as baseline).

    Above `max_members` rows (default `ml.sampling.MAX_SEGMENT_MEMBERS`) the scaler and
    the clusters are fitted on a seeded sample of that many members; the segment sizes
    and profiles are then those of every member (each assigned to its nearest centroid),
    and `metrics["sample"]` says what was used.

    Fitted on one thread: scikit-learn's K-means adds its threads' partial centroid sums
    in the order the threads finish, so with more than two threads the same data and
    seed give different centroids run to run (15 fits, 15 results at OMP_NUM_THREADS=8),
    and a different best k. One thread gives one result on every machine."""
    with threadpool_limits(limits=1):
        return _fit_segmentation(frame, k_range, seed, max_members)


def _fit_segmentation(
    frame: pd.DataFrame, k_range, seed: int, max_members: int | None
) -> tuple[SegmentationModel, dict]:
    features = feature_columns(frame)
    if len(frame) < max(k_range) * 5:
        raise ValueError(f"segmentation needs at least {max(k_range) * 5} members, got {len(frame)}")
    cap = sampling.MAX_SEGMENT_MEMBERS if max_members is None else int(max_members)
    picked = sampling.sample_indices(len(frame), cap, sampling.SEED)
    sample = sampling.describe("members", len(frame), len(frame) if picked is None else len(picked), cap)
    x_all = _matrix(frame, features) if picked is not None else None
    x_raw = _matrix(frame, features) if picked is None else x_all[picked]
    scaler = StandardScaler().fit(x_raw)
    x = scaler.transform(x_raw)
    by_k = {}
    fits = {}
    for k in k_range:
        km = KMeans(n_clusters=k, n_init=3, random_state=seed).fit(x)
        by_k[int(k)] = _silhouette(x, km.labels_, seed)
        fits[int(k)] = km
    best_k = max(by_k, key=lambda k: (by_k[k], -k))
    km = fits[best_k]
    xp = permuted(x, seed)
    baseline = _silhouette(xp, KMeans(n_clusters=best_k, n_init=3, random_state=seed).fit(xp).labels_, seed)

    labels = km.labels_
    if x_all is not None:  # sampled: profile every member with the fitted centroids
        x_raw, labels = x_all, km.predict(scaler.transform(x_all))
    means = pd.DataFrame(x_raw, columns=features).groupby(labels).mean()
    profile_z = pd.DataFrame(km.cluster_centers_, columns=features)
    names = name_clusters(profile_z)
    profile = means.copy()
    profile.insert(0, "members", np.bincount(labels, minlength=best_k))
    profile.insert(0, "segment_name", names)
    model = SegmentationModel(scaler, km, features, names, profile, profile_z)
    metrics = {
        "k": int(best_k),
        "silhouette": by_k[best_k],
        "silhouette_by_k": {str(k): v for k, v in by_k.items()},
        "baseline": {"name": "same k on column-permuted features (no joint structure)", "silhouette": baseline},
        "members": int(len(frame)),
        "sample": sample,
        "features": features,
        "segments": [
            {
                "segment_id": int(i),
                "segment_name": names[i],
                "members": int(profile.loc[i, "members"]),
                "profile": describe(profile_z.loc[i], means.loc[i]),
            }
            for i in range(best_k)
        ],
    }
    return model, metrics


# The gate: silhouette at least the floor AND at least BASELINE_RATIO x the silhouette of
# the same k on column-permuted features (K-means always finds *some* clusters: on data
# without joint structure the two are within a few percent of each other).
SILHOUETTE_FLOOR = 0.10
BASELINE_RATIO = 1.2


def beats_baseline(metrics: dict, floor: float = SILHOUETTE_FLOOR, ratio: float = BASELINE_RATIO) -> tuple[bool, str]:
    s, b = metrics["silhouette"], metrics["baseline"]["silhouette"]
    ok = bool(np.isfinite(s) and s >= floor and s >= ratio * b)
    return ok, (
        f"silhouette {s:.4f} (floor {floor}) vs permuted-features baseline {b:.4f} (needs x{ratio}) at k={metrics['k']}"
    )
