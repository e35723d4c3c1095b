"""Train, register, promote and score the behavioural models against the warehouse:
segmentation, basket rules and recommendations (the churn/CLV twins are in
`ml.pipeline`). Writes `ml_scores.member_segments`, `ml_scores.basket_rules` and
`ml_scores.member_recommendations`, declared as the dbt source `ml_scores`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mallcrm.core.settings import Settings
from mallcrm.core.warehouse import connect
from ml import basket, cards, plots, recommend, sampling, segmentation
from ml.pipeline import TrainResult, _now, with_sample_note
from ml.registry import Registry

SEGMENTATION = "segmentation"
BASKET = "basket_rules"
RECOMMENDATIONS = "recommendations"
SEGMENT_FEATURES_TABLE = "ml_features.ml_member_segment_features"
HOLDOUT_DAYS = 30  # basket and recommendation holdout: the last 30 days of sales
TOP_RULES = 50  # rules per level written back for cross-promotion


def _sql(settings: Settings, query: str, params=None) -> pd.DataFrame:
    con = connect(settings)
    try:
        return con.sql(query, params=params).df()
    finally:
        con.close()


def _data_end(settings: Settings) -> pd.Timestamp:
    value = _sql(settings, "select max(business_date) as d from marts.fct_sales_lines where not is_refund")["d"][0]
    if value is None or pd.isna(value):
        raise ValueError("marts.fct_sales_lines has no sales: build the dbt project first")
    return pd.Timestamp(value)


def _register(registry, model, metrics, card, promote, **kwargs) -> TrainResult:
    version = registry.register(model, metrics=metrics, card=card, **kwargs)
    ok = bool(metrics["gate"]["passed"])
    if promote and ok:
        registry.promote(model, version.version)
    return TrainResult(
        model, version, metrics, bool(promote and ok), with_sample_note(metrics["gate"]["detail"], metrics)
    )


def _current(registry: Registry, model: str):
    current = registry.current(model)
    if current is None:
        raise LookupError(f"no promoted {model} model: train it first (`make demo` or the ml_train job)")
    return current


# --------------------------------------------------------------------------- segmentation


def load_segment_features(settings: Settings) -> pd.DataFrame:
    """Rows by member and cutoff: K-means' seeding follows the rows' order, which a
    table leaves to its engine (ml.pipeline.load_features)."""
    return _sql(settings, f"select * from {SEGMENT_FEATURES_TABLE} order by member_id, cutoff_date")


def train_segmentation(settings: Settings, registry: Registry | None = None, promote: bool = True) -> TrainResult:
    registry = registry or Registry(settings.models_dir)
    frame = load_segment_features(settings)
    if frame.empty:
        raise ValueError(f"{SEGMENT_FEATURES_TABLE} is empty: build the dbt project first")
    model, metrics = segmentation.fit_segmentation(frame)
    ok, detail = segmentation.beats_baseline(metrics)
    metrics = {
        "model": SEGMENTATION,
        "algorithm": "StandardScaler + KMeans (k by silhouette)",
        "cutoff_date": str(pd.Timestamp(frame["cutoff_date"].max()).date()),
        **metrics,
        "gate": {
            "passed": ok,
            "detail": detail,
            "rule": f"silhouette >= {segmentation.SILHOUETTE_FLOOR} and >= {segmentation.BASELINE_RATIO} x "
            "the permuted-features baseline's",
        },
    }
    files = {
        "silhouette.png": plots.silhouette_by_k(
            metrics["silhouette_by_k"], metrics["k"], metrics["baseline"]["silhouette"]
        ),
        "profile.png": plots.segment_profile(model.profile_z, model.names),
        "profile.csv": model.profile.to_csv(index_label="segment_id"),
    }
    return _register(
        registry,
        SEGMENTATION,
        metrics,
        cards.segmentation_card(metrics, model.profile) + cards.sample_section(metrics),
        promote,
        artifact=model,
        extra_files=files,
    )


def score_segmentation(settings: Settings, registry: Registry | None = None) -> pd.DataFrame:
    registry = registry or Registry(settings.models_dir)
    current = _current(registry, SEGMENTATION)
    model: segmentation.SegmentationModel = current.load_artifact()
    frame = load_segment_features(settings)
    labels = model.predict(frame) if len(frame) else np.array([], dtype=int)
    means = model.profile.drop(columns=["segment_name", "members"])
    profiles = [segmentation.describe(model.profile_z.loc[i], means.loc[i]) for i in range(len(model.names))]
    out = pd.DataFrame(
        {
            "member_id": frame["member_id"].astype(str).to_numpy(),
            "segment_id": labels.astype("int32"),
            "segment_name": np.array(model.names, dtype=object)[labels] if len(frame) else [],
            "segment_profile": np.array(profiles, dtype=object)[labels] if len(frame) else [],
        }
    )
    out["cutoff_date"] = pd.to_datetime(frame["cutoff_date"]).dt.date.to_numpy()
    out["model_version"] = current.version
    out["scored_at"] = _now()
    return out


# --------------------------------------------------------------------------- basket rules


def _basket_query(level: str) -> str:
    if level == "sku":
        return """select distinct transaction_id as basket_id, sku as item from marts.fct_sales_lines
                   where not is_refund and sku is not null and business_date > ? and business_date <= ?"""
    if level == "category":
        return """select distinct coalesce(member_id || '|' || cast(business_date as varchar), transaction_id)
                          as basket_id, product_category as item
                   from marts.fct_sales_lines
                   where not is_refund and product_category is not null
                     and business_date > ? and business_date <= ?"""
    raise ValueError(f"unknown basket level {level!r}: use 'category' or 'sku'")


def load_basket_pairs(settings: Settings, level: str, start, end) -> pd.DataFrame:
    """(basket_id, item) pairs of sales dated in (start, end]. SKU level: one receipt;
    category level: one shopping trip (a member's receipts of one day; an anonymous
    receipt is its own trip), so rules span the mall's stores."""
    return _sql(settings, _basket_query(level), [pd.Timestamp(start).date(), pd.Timestamp(end).date()])


def load_basket_sample(
    settings: Settings, level: str, start, end, max_baskets: int | None = None
) -> tuple[pd.DataFrame, dict]:
    """`load_basket_pairs`, or above `max_baskets` (default `ml.sampling.MAX_BASKETS`)
    baskets the pairs of a seeded sample of `max_baskets` of them, drawn in DuckDB among
    all baskets (one-item baskets count in the rules' support denominator, so the sample
    keeps them in proportion); with the sample's description (`ml.sampling.describe`)."""
    max_baskets = sampling.MAX_BASKETS if max_baskets is None else int(max_baskets)
    params = [pd.Timestamp(start).date(), pd.Timestamp(end).date()]
    total = int(_sql(settings, f"select count(distinct basket_id) as n from ({_basket_query(level)})", params)["n"][0])
    if total <= max_baskets:
        pairs = _sql(settings, _basket_query(level), params)
        return pairs, sampling.describe("baskets", total, total, max_baskets)
    query = f"""with pairs as ({_basket_query(level)}),
                     picked as (select basket_id from pairs group by basket_id
                                order by {sampling.hash_order_sql("basket_id")}, basket_id limit {int(max_baskets)})
                select basket_id, item from pairs where basket_id in (select basket_id from picked)"""
    pairs = _sql(settings, query, params)
    return pairs, sampling.describe("baskets", total, max_baskets, max_baskets)


def train_basket_rules(
    settings: Settings, registry: Registry | None = None, promote: bool = True, window_days: int = 365
) -> TrainResult:
    registry = registry or Registry(settings.models_dir)
    end = _data_end(settings)
    split = end - pd.Timedelta(days=HOLDOUT_DAYS)
    start = end - pd.Timedelta(days=window_days)
    stats, tables, samples = {}, [], {}
    for level in ("category", "sku"):
        train_pairs, train_sample = load_basket_sample(settings, level, start, split)
        train_hot = basket.basket_matrix(train_pairs)
        del train_pairs
        rules, s = basket.mine_rules(train_hot)
        s["sample"] = train_sample
        top = rules[rules["lift"] > 1].head(TOP_RULES)
        hold_pairs, hold_sample = load_basket_sample(settings, level, split, end)
        hold_hot = basket.basket_matrix(hold_pairs)
        del hold_pairs
        hold = basket.holdout_lift(top, hold_hot) if len(top) else pd.Series(dtype=float)
        s["holdout_baskets"] = int(len(hold_hot))
        s["holdout_sample"] = hold_sample
        s["holdout_mean_lift_top"] = float(hold.mean()) if hold.notna().any() else None
        del train_hot, hold_hot
        # The rules written back: mined again on the whole window, holdout included.
        final_pairs, final_sample = load_basket_sample(settings, level, start, end)
        final, final_stats = basket.mine_rules(basket.basket_matrix(final_pairs))
        del final_pairs
        final_stats["sample"] = final_sample
        samples[level] = final_sample
        s["final"] = final_stats
        stats[level] = s
        final = final[final["lift"] > 1].head(TOP_RULES).copy()
        final.insert(0, "level", level)
        tables.append(final)
    ok, detail = basket.beats_baseline(stats)
    rules = pd.concat(tables, ignore_index=True)
    metrics = {
        "model": BASKET,
        "algorithm": "FP-Growth (mlxtend) + association rules",
        "window": {
            "start_exclusive": str(start.date()),
            "holdout_start_exclusive": str(split.date()),
            "end": str(end.date()),
        },
        "min_baskets": basket.MIN_BASKETS,
        "min_confidence": basket.MIN_CONFIDENCE,
        "max_len": basket.MAX_LEN,
        "sample": _combined_sample(samples),
        "levels": stats,
        "top_rules": int(len(rules)),
        "gate": {
            "passed": ok,
            "detail": detail,
            "rule": f"each level: >= {basket.MIN_RULES} rules with lift > 1 and top rules' holdout lift > 1",
        },
    }
    return _register(
        registry,
        BASKET,
        metrics,
        cards.basket_card(metrics, rules) + cards.sample_section(metrics),
        promote,
        artifact=rules,
        extra_files={"rules.csv": rules.to_csv(index=False)},
    )


def _combined_sample(by_level: dict[str, dict]) -> dict:
    """One `"sample"` for the basket model: the final mining runs of both levels summed,
    with each level's own description under `by_level`."""
    total = sum(v["total"] for v in by_level.values())
    used = sum(v["used"] for v in by_level.values())
    cap = max(v["cap"] for v in by_level.values())
    return {**sampling.describe("baskets", total, used, cap), "by_level": by_level}


def score_basket_rules(settings: Settings, registry: Registry | None = None) -> pd.DataFrame:
    registry = registry or Registry(settings.models_dir)
    current = _current(registry, BASKET)
    rules: pd.DataFrame = current.load_artifact().copy()
    rules["rule_rank"] = rules.groupby("level").cumcount().astype("int32") + 1
    rules["cutoff_date"] = pd.Timestamp(current.metrics["window"]["end"]).date()
    rules["model_version"] = current.version
    rules["scored_at"] = _now()
    return rules


# --------------------------------------------------------------------------- recommendations


_MEMBER_ITEMS = """select distinct member_id, sku from marts.fct_sales_lines
                   where member_id is not null and not is_refund and sku is not null
                     and business_date > ? and business_date <= ?"""


def load_member_items(settings: Settings, start, end) -> pd.DataFrame:
    return _sql(settings, _MEMBER_ITEMS, [pd.Timestamp(start).date(), pd.Timestamp(end).date()])


def _dates(*days) -> list:
    return [pd.Timestamp(d).date() for d in days]


def count_members(settings: Settings, start, end) -> int:
    """Members with a purchase (a SKU) dated in (start, end]."""
    return int(
        _sql(settings, f"select count(distinct member_id) as n from ({_MEMBER_ITEMS})", _dates(start, end))["n"][0]
    )


def load_member_items_sample(
    settings: Settings, start, end, max_members: int | None = None, pick_window: tuple | None = None
) -> tuple[pd.DataFrame, dict]:
    """`load_member_items`, or above `max_members` members (default
    `ml.sampling.MAX_RECOMMEND_MEMBERS`) the purchases of a seeded sample of them, drawn
    in DuckDB. `pick_window` (start, end) draws the sample among the members of another
    window (the holdout is read for the training window's sample)."""
    cap = sampling.MAX_RECOMMEND_MEMBERS if max_members is None else int(max_members)
    pick_start, pick_end = pick_window or (start, end)
    total = count_members(settings, pick_start, pick_end)
    if total <= cap:
        return load_member_items(settings, start, end), sampling.describe("members", total, total, cap)
    query = f"""with picked as (select member_id from ({_MEMBER_ITEMS}) group by member_id
                                order by {sampling.hash_order_sql("member_id")}, member_id limit {cap})
                select member_id, sku from ({_MEMBER_ITEMS})
                where member_id in (select member_id from picked)"""
    pairs = _sql(settings, query, _dates(pick_start, pick_end, start, end))
    return pairs, sampling.describe("members", total, cap, cap)


def train_recommendations(
    settings: Settings, registry: Registry | None = None, promote: bool = True, window_days: int = 365
) -> TrainResult:
    registry = registry or Registry(settings.models_dir)
    end = _data_end(settings)
    split = end - pd.Timedelta(days=HOLDOUT_DAYS)
    start = end - pd.Timedelta(days=window_days)
    # Above the cap, the evaluation fits on a sample of the training window's members and
    # judges the same members' holdout purchases; the final model fits on a sample of the
    # whole window's members. Scoring covers every member.
    train_pairs, eval_sample = load_member_items_sample(settings, start, split)
    hold_pairs, _ = load_member_items_sample(settings, split, end, pick_window=(start, split))
    evaluation = recommend.evaluate(train_pairs, hold_pairs)
    del train_pairs, hold_pairs
    evaluation["sample"] = eval_sample
    ok, detail = recommend.beats_baseline(evaluation)
    final_pairs, sample = load_member_items_sample(settings, start, end)
    final = recommend.fit_item_cf(recommend.interactions(final_pairs))
    del final_pairs
    metrics = {
        "model": RECOMMENDATIONS,
        "algorithm": "item-based CF, cosine on binary member x product",
        "window": {
            "start_exclusive": str(start.date()),
            "holdout_start_exclusive": str(split.date()),
            "end": str(end.date()),
        },
        "validation": evaluation,
        "sample": sample,
        "evaluation_sample": eval_sample,
        "excludes_bought": True,
        "gate": {"passed": ok, "detail": detail, "rule": "holdout hit rate@10 > popularity baseline's"},
    }
    files = {
        "hit_rate.png": plots.hit_rates(evaluation["hit_rate"], evaluation["baseline"]["hit_rate"], evaluation["k"])
    }
    return _register(
        registry,
        RECOMMENDATIONS,
        metrics,
        cards.recommendations_card(metrics) + cards.sample_section(metrics),
        promote,
        artifact=final,
        extra_files=files,
    )


SCORE_CHUNK_MEMBERS = 100_000  # members read and scored at a time (a 1M-member mall: 10 chunks)


def score_recommendations(
    settings: Settings, registry: Registry | None = None, window_days: int = 365, chunk_members: int | None = None
) -> pd.DataFrame:
    """Top-N unseen products for every member with a purchase in the window. Above
    `chunk_members` members (default SCORE_CHUNK_MEMBERS) they are read and scored in
    chunks (a hash of member_id picks the chunk), so no step holds more than one
    chunk's purchases and dense scores."""
    registry = registry or Registry(settings.models_dir)
    current = _current(registry, RECOMMENDATIONS)
    model: recommend.ItemCF = current.load_artifact()
    end = _data_end(settings)
    start = end - pd.Timedelta(days=window_days)
    chunk = SCORE_CHUNK_MEMBERS if chunk_members is None else int(chunk_members)
    total = count_members(settings, start, end)
    chunks = max(1, -(-total // chunk))
    if chunks == 1:
        parts = [_recommend_frame(model, load_member_items(settings, start, end))]
    else:
        query = f"select member_id, sku from ({_MEMBER_ITEMS}) where hash(member_id) % {chunks} = ?"
        parts = [_recommend_frame(model, _sql(settings, query, [*_dates(start, end), c])) for c in range(chunks)]
    out = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    out["cutoff_date"] = end.date()
    out["model_version"] = current.version
    out["scored_at"] = _now()
    return out


def _recommend_frame(model: recommend.ItemCF, pairs: pd.DataFrame) -> pd.DataFrame:
    """(member_id, rank, sku, score) of the members in `pairs` (their purchase history)."""
    history = recommend.interactions(pairs, items=model.items)
    idx, scores = model.recommend(history.matrix, recommend.TOP_N)
    n = idx.shape[1] if idx.ndim == 2 else 0
    out = pd.DataFrame(
        {
            "member_id": np.repeat(history.members, n),
            "rank": np.tile(np.arange(1, n + 1, dtype="int32"), len(history.members)),
            "sku": model.items[idx.ravel()] if idx.size else np.array([], dtype=object),
            "score": scores.ravel(),
        }
    )
    return out[np.isfinite(out["score"])]
