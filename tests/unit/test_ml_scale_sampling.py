"""Issue 18 (a million members): training samples only above a cap, deterministically,
reports what it used, and scoring still covers every member."""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd
import pytest

from ml import behaviour, recommend, sampling, segmentation
from ml.pipeline import TrainResult, _sample_rows, with_sample_note
from ml.registry import Registry
from tests.conftest import settings_for

END = date(2026, 6, 30)


def test_sample_indices_only_above_the_cap_and_seeded():
    assert sampling.sample_indices(100, 100) is None
    a, b = sampling.sample_indices(1000, 100), sampling.sample_indices(1000, 100)
    assert len(a) == 100 and np.array_equal(a, b) and np.all(np.diff(a) > 0)
    assert not np.array_equal(a, sampling.sample_indices(1000, 100, seed=sampling.SEED + 1))
    d = sampling.describe("members", 1000, 100, 100)
    assert d["sampled"] and d["used"] == 100 and d["total"] == 1000 and d["seed"] == sampling.SEED
    assert sampling.note(d) == "sample of 100 of 1,000 members (cap 100)"
    assert sampling.note(sampling.describe("members", 50, 50, 100)) == ""


def test_sampled_rows_are_reported_in_metrics_and_the_cli_reason():
    frame = pd.DataFrame({"x": np.arange(30)})
    same, info = _sample_rows(frame, "feature rows", cap=30)
    assert same is frame and not info["sampled"]
    small, info = _sample_rows(frame, "feature rows", cap=10)
    assert len(small) == 10 and info["used"] == 10 and info["total"] == 30 and info["sampled"]
    assert small["x"].is_monotonic_increasing  # original order kept
    result = TrainResult("churn", None, {"sample": info}, False, "")
    assert result.sample["used"] == 10
    assert with_sample_note("gate detail", {"sample": info}).endswith("sample of 10 of 30 feature rows (cap 10)")
    assert with_sample_note("gate detail", {}) == "gate detail"


def _segment_frame(n: int = 600, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    group = rng.integers(0, 3, n)
    cols = {}
    for j, name in enumerate(["share_fashion", "share_kids", "share_supermarket"]):
        cols[name] = np.clip(np.where(group == j, 0.7, 0.15) + rng.normal(0, 0.05, n), 0, 1)
    cols["discount_share"] = rng.random(n)
    return pd.DataFrame({"member_id": [f"M{i:05d}" for i in range(n)], **cols})


def test_segmentation_samples_above_the_cap_and_profiles_everyone():
    frame = _segment_frame()
    k_range = range(3, 5)
    model, full = segmentation.fit_segmentation(frame, k_range=k_range, max_members=600)
    assert not full["sample"]["sampled"] and full["sample"]["used"] == 600
    again, default = segmentation.fit_segmentation(frame, k_range=k_range)  # cap far above: same result
    assert default["silhouette_by_k"] == full["silhouette_by_k"]
    assert np.array_equal(again.predict(frame), model.predict(frame))

    sampled_model, sampled = segmentation.fit_segmentation(frame, k_range=k_range, max_members=200)
    assert sampled["sample"] == sampling.describe("members", 600, 200, 200)
    assert sampled["members"] == 600 and sum(s["members"] for s in sampled["segments"]) == 600
    labels = sampled_model.predict(frame)  # every member is scored
    assert len(labels) == 600 and set(labels) == set(range(sampled["k"]))
    _, repeat = segmentation.fit_segmentation(frame, k_range=k_range, max_members=200)
    assert repeat["silhouette_by_k"] == sampled["silhouette_by_k"]  # seeded


def test_recommend_block_size_never_changes_a_result(monkeypatch):
    rng = np.random.default_rng(3)
    pairs = pd.DataFrame(
        {"member_id": [f"m{i}" for i in rng.integers(0, 120, 900)], "sku": [f"s{i}" for i in rng.integers(0, 40, 900)]}
    )
    data = recommend.interactions(pairs)
    model = recommend.fit_item_cf(data)
    idx, scores = model.recommend(data.matrix)
    pop = recommend.popularity_recommend(model.popularity, data.matrix)
    monkeypatch.setattr(recommend, "DENSE_CELLS", 7 * len(data.items))  # blocks of 7 members
    assert recommend.block_rows(len(data.items)) == 7
    idx2, scores2 = model.recommend(data.matrix)
    assert np.array_equal(idx, idx2) and np.array_equal(scores, scores2)
    assert np.array_equal(pop, recommend.popularity_recommend(model.popularity, data.matrix))


@pytest.fixture
def sales_settings(tmp_path):
    """A warehouse with just marts.fct_sales_lines: 200 members, 30 SKUs in 5 categories,
    90 days, members buying within their taste group (and anonymous receipts)."""
    settings = settings_for(tmp_path)
    rng = np.random.default_rng(7)
    rows = []
    for t in range(3000):
        member = int(rng.integers(0, 200))
        anonymous = rng.random() < 0.1
        group = member % 5
        day = END - timedelta(days=int(rng.integers(0, 90)))
        for _ in range(int(rng.integers(1, 4))):
            sku = group * 6 + int(rng.integers(0, 6)) if rng.random() < 0.8 else int(rng.integers(0, 30))
            rows.append((f"T{t:05d}", f"S{sku:02d}", f"cat{sku // 6}", None if anonymous else f"M{member:04d}", day))
    frame = pd.DataFrame(rows, columns=["transaction_id", "sku", "product_category", "member_id", "business_date"])
    frame["is_refund"] = False
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(settings.warehouse))
    con.execute("create schema marts")
    con.register("f", frame)
    con.execute("create table marts.fct_sales_lines as select * from f")
    con.close()
    return settings


def test_basket_sample_only_above_the_cap(sales_settings):
    start, end = END - timedelta(days=90), END
    pairs = behaviour.load_basket_pairs(sales_settings, "sku", start, end)
    baskets = pairs["basket_id"].nunique()  # all of them: one-item baskets count in support
    assert pairs.groupby("basket_id")["item"].nunique().eq(1).any()
    same, info = behaviour.load_basket_sample(sales_settings, "sku", start, end, max_baskets=int(baskets))
    assert not info["sampled"] and info["total"] == baskets
    key = ["basket_id", "item"]  # `select distinct` returns its rows in no set order
    pd.testing.assert_frame_equal(
        same.sort_values(key).reset_index(drop=True), pairs.sort_values(key).reset_index(drop=True)
    )

    sample, info = behaviour.load_basket_sample(sales_settings, "sku", start, end, max_baskets=300)
    assert info == sampling.describe("baskets", int(baskets), 300, 300)
    assert sample["basket_id"].nunique() == 300 and sample.groupby("basket_id")["item"].nunique().min() >= 1
    assert set(map(tuple, sample.to_numpy())) <= set(map(tuple, pairs.to_numpy()))
    again, _ = behaviour.load_basket_sample(sales_settings, "sku", start, end, max_baskets=300)
    assert set(again["basket_id"]) == set(sample["basket_id"])  # seeded
    assert len(behaviour.basket.basket_matrix(sample)) == 300


def test_recommendations_train_on_a_sample_and_score_every_member(sales_settings, monkeypatch):
    settings = sales_settings
    monkeypatch.setattr(sampling, "MAX_RECOMMEND_MEMBERS", 60)
    start, end = END - timedelta(days=365), END
    members = behaviour.count_members(settings, start, end)
    assert members == 200
    sample, info = behaviour.load_member_items_sample(settings, start, end)
    assert info == sampling.describe("members", 200, 60, 60) and sample["member_id"].nunique() == 60
    # the holdout is read for the training window's sample
    hold, _ = behaviour.load_member_items_sample(
        settings, END - timedelta(days=30), end, pick_window=(start, END - timedelta(days=30))
    )
    train, _ = behaviour.load_member_items_sample(settings, start, END - timedelta(days=30))
    assert set(hold["member_id"]) <= set(train["member_id"])

    registry = Registry(settings.models_dir)
    result = behaviour.train_recommendations(settings, registry)
    assert result.sample == info and result.metrics["validation"]["sample"]["used"] == 60
    assert "sample of 60 of 200 members" in result.reason
    assert registry.get("recommendations", result.version.version).metrics["sample"]["used"] == 60
    registry.promote("recommendations", result.version.version)  # the gate may be noise here

    whole = behaviour.score_recommendations(settings, registry)
    chunked = behaviour.score_recommendations(settings, registry, chunk_members=45)  # 5 chunks
    assert whole["member_id"].nunique() == 200  # every member, not only the sample
    key = ["member_id", "rank"]
    cols = ["member_id", "rank", "sku", "score"]
    pd.testing.assert_frame_equal(
        whole[cols].sort_values(key).reset_index(drop=True), chunked[cols].sort_values(key).reset_index(drop=True)
    )


def test_sparse_fpgrowth_equals_mlxtend_without_a_dense_matrix():
    from mlxtend.frequent_patterns import fpgrowth

    from ml import basket

    rng = np.random.default_rng(11)
    items = [f"i{j:02d}" for j in range(25)]
    weights = np.linspace(3, 0.2, 25)
    rows = [sorted(set(rng.choice(items, int(rng.integers(1, 5)), p=weights / weights.sum()))) for _ in range(1500)]
    pairs = pd.DataFrame([(b, i) for b, r in enumerate(rows) for i in r], columns=["basket_id", "item"])
    onehot = basket.basket_matrix(pairs)
    for support, max_len in ((0.01, 3), (0.05, 2), (0.002, None)):
        ours = basket.fpgrowth_sparse(onehot, support, max_len)
        theirs = fpgrowth(onehot, min_support=support, use_colnames=True, max_len=max_len)
        pd.testing.assert_frame_equal(ours.reset_index(drop=True), theirs.reset_index(drop=True))
