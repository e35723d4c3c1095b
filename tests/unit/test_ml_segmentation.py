"""ml/segmentation.py: naming rules over centroid profiles, and K-means finding
planted behavioural groups better than the permuted-features baseline."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ml import segmentation


def _z(rows: list[dict]) -> pd.DataFrame:
    cols = [
        "share_fashion",
        "share_kids",
        "share_supermarket",
        "discount_share",
        "coupon_order_share",
        "in_family_group",
        "share_evening",
    ]
    return pd.DataFrame([{c: r.get(c, 0.0) for c in cols} for r in rows])


def test_names_come_from_the_strongest_trait_not_the_cluster_id():
    z = _z(
        [
            {"share_fashion": 1.8},
            {"discount_share": 1.2, "coupon_order_share": 0.9},
            {"in_family_group": 2.0, "share_kids": 1.0},
            {"share_fashion": 0.1},
            {"share_evening": 0.9},
        ]
    )
    assert segmentation.name_clusters(z) == [
        "fashion lovers",
        "discount seekers",
        "family shoppers",
        "all-round shoppers",
        "evening shoppers",
    ]
    # the same profiles in another order get the same names in that order
    assert segmentation.name_clusters(z.iloc[::-1].reset_index(drop=True)) == [
        "evening shoppers",
        "all-round shoppers",
        "family shoppers",
        "discount seekers",
        "fashion lovers",
    ]


def test_clashing_names_add_the_second_trait_then_a_number():
    z = _z(
        [
            {"share_fashion": 1.5, "discount_share": 0.8},
            {"share_fashion": 1.2, "share_evening": 0.7},
            {"share_supermarket": 0.2},
            {"share_kids": 0.1},
        ]
    )
    names = segmentation.name_clusters(z)
    assert names[:2] == ["fashion lovers, discount seekers", "fashion lovers, evening shoppers"]
    assert names[2:] == ["all-round shoppers 1", "all-round shoppers 2"]
    assert len(set(names)) == len(names)


def test_unknown_categories_get_a_generic_name():
    assert segmentation.trait_name("share_pet_care") == "pet care lovers"
    assert segmentation.trait_name("share_supermarket") == "grocery shoppers"


def _planted(n_per: int = 150, seed: int = 1) -> pd.DataFrame:
    """Three planted groups: fashion, discount-driven supermarket, family kids shoppers."""
    rng = np.random.default_rng(seed)
    rows = []
    for group in range(3):
        for _ in range(n_per):
            mix = rng.dirichlet([8, 1, 1, 1] if group == 0 else [1, 8, 1, 1] if group == 1 else [1, 1, 8, 1])
            rows.append(
                {
                    "member_id": f"M{len(rows)}",
                    "cutoff_date": "2026-06-30",
                    "share_fashion": mix[0],
                    "share_supermarket": mix[1],
                    "share_kids": mix[2],
                    "share_other": mix[3],
                    "share_morning": rng.uniform(0.2, 0.4),
                    "share_afternoon": rng.uniform(0.3, 0.5),
                    "share_evening": rng.uniform(0.2, 0.4),
                    "discount_share": rng.uniform(0.15, 0.3) if group == 1 else rng.uniform(0.0, 0.05),
                    "coupon_order_share": rng.uniform(0.4, 0.8) if group == 1 else rng.uniform(0.0, 0.1),
                    "in_family_group": float(group == 2 or rng.random() < 0.05),
                }
            )
    return pd.DataFrame(rows)


def test_kmeans_recovers_planted_segments_and_beats_the_permuted_baseline():
    frame = _planted()
    model, metrics = segmentation.fit_segmentation(frame, k_range=range(2, 6))
    assert metrics["k"] == 3
    ok, detail = segmentation.beats_baseline(metrics)
    assert ok, detail
    assert metrics["silhouette"] > metrics["baseline"]["silhouette"] + 0.1
    labels = model.predict(frame)
    by_group = pd.crosstab(np.repeat([0, 1, 2], 150), labels)
    assert (by_group.max(axis=1) / 150 > 0.9).all()  # each planted group lands in one cluster
    names = {model.names[pd.Series(labels[i * 150 : (i + 1) * 150]).mode()[0]] for i in range(3)}
    assert names == {"fashion lovers", "discount seekers", "family shoppers"} or (
        "fashion lovers" in names and any("discount" in n for n in names) and any("family" in n for n in names)
    )


def test_structureless_data_fails_the_gate():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        rng.normal(size=(300, 4)), columns=["share_a", "share_b", "discount_share", "coupon_order_share"]
    )
    _, metrics = segmentation.fit_segmentation(frame, k_range=range(2, 5))
    assert not segmentation.beats_baseline(metrics)[0]


def test_too_few_members_is_a_clear_error():
    with pytest.raises(ValueError, match="at least"):
        segmentation.fit_segmentation(_planted(n_per=3), k_range=range(2, 6))
