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
from ml import basket, cards, plots, recommend, segmentation
from ml.pipeline import TrainResult, _now
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
    return TrainResult(model, version, metrics, bool(promote and ok), metrics["gate"]["detail"])


def _current(registry: Registry, model: str):
    current = registry.current(model)
    if current is None:
        raise LookupError(f"no promoted {model} model: train it first (`make demo` or the ml_train job)")
    return current


# --------------------------------------------------------------------------- segmentation


def load_segment_features(settings: Settings) -> pd.DataFrame:
    return _sql(settings, f"select * from {SEGMENT_FEATURES_TABLE}")


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
        cards.segmentation_card(metrics, model.profile),
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


def load_basket_pairs(settings: Settings, level: str, start, end) -> pd.DataFrame:
    """(basket_id, item) pairs of sales dated in (start, end]. SKU level: one receipt;
    category level: one shopping trip (a member's receipts of one day; an anonymous
    receipt is its own trip), so rules span the mall's stores."""
    if level == "sku":
        query = """select distinct transaction_id as basket_id, sku as item from marts.fct_sales_lines
                   where not is_refund and sku is not null and business_date > ? and business_date <= ?"""
    elif level == "category":
        query = """select distinct coalesce(member_id || '|' || cast(business_date as varchar), transaction_id)
                          as basket_id, product_category as item
                   from marts.fct_sales_lines
                   where not is_refund and product_category is not null
                     and business_date > ? and business_date <= ?"""
    else:
        raise ValueError(f"unknown basket level {level!r}: use 'category' or 'sku'")
    return _sql(settings, query, [pd.Timestamp(start).date(), pd.Timestamp(end).date()])


def train_basket_rules(
    settings: Settings, registry: Registry | None = None, promote: bool = True, window_days: int = 365
) -> TrainResult:
    registry = registry or Registry(settings.models_dir)
    end = _data_end(settings)
    split = end - pd.Timedelta(days=HOLDOUT_DAYS)
    start = end - pd.Timedelta(days=window_days)
    stats, tables = {}, []
    for level in ("category", "sku"):
        train_hot = basket.basket_matrix(load_basket_pairs(settings, level, start, split))
        rules, s = basket.mine_rules(train_hot)
        top = rules[rules["lift"] > 1].head(TOP_RULES)
        hold_hot = basket.basket_matrix(load_basket_pairs(settings, level, split, end))
        hold = basket.holdout_lift(top, hold_hot) if len(top) else pd.Series(dtype=float)
        s["holdout_baskets"] = int(len(hold_hot))
        s["holdout_mean_lift_top"] = float(hold.mean()) if hold.notna().any() else None
        # The rules written back: mined again on the whole window, holdout included.
        final, final_stats = basket.mine_rules(basket.basket_matrix(load_basket_pairs(settings, level, start, end)))
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
        cards.basket_card(metrics, rules),
        promote,
        artifact=rules,
        extra_files={"rules.csv": rules.to_csv(index=False)},
    )


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


def load_member_items(settings: Settings, start, end) -> pd.DataFrame:
    return _sql(
        settings,
        """select distinct member_id, sku from marts.fct_sales_lines
                             where member_id is not null and not is_refund and sku is not null
                               and business_date > ? and business_date <= ?""",
        [pd.Timestamp(start).date(), pd.Timestamp(end).date()],
    )


def train_recommendations(
    settings: Settings, registry: Registry | None = None, promote: bool = True, window_days: int = 365
) -> TrainResult:
    registry = registry or Registry(settings.models_dir)
    end = _data_end(settings)
    split = end - pd.Timedelta(days=HOLDOUT_DAYS)
    start = end - pd.Timedelta(days=window_days)
    evaluation = recommend.evaluate(load_member_items(settings, start, split), load_member_items(settings, split, end))
    ok, detail = recommend.beats_baseline(evaluation)
    final = recommend.fit_item_cf(recommend.interactions(load_member_items(settings, start, end)))
    metrics = {
        "model": RECOMMENDATIONS,
        "algorithm": "item-based CF, cosine on binary member x product",
        "window": {
            "start_exclusive": str(start.date()),
            "holdout_start_exclusive": str(split.date()),
            "end": str(end.date()),
        },
        "validation": evaluation,
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
        cards.recommendations_card(metrics),
        promote,
        artifact=final,
        extra_files=files,
    )


def score_recommendations(settings: Settings, registry: Registry | None = None, window_days: int = 365) -> pd.DataFrame:
    registry = registry or Registry(settings.models_dir)
    current = _current(registry, RECOMMENDATIONS)
    model: recommend.ItemCF = current.load_artifact()
    end = _data_end(settings)
    history = recommend.interactions(
        load_member_items(settings, end - pd.Timedelta(days=window_days), end), items=model.items
    )
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
    out = out[np.isfinite(out["score"])]
    out["cutoff_date"] = end.date()
    out["model_version"] = current.version
    out["scored_at"] = _now()
    return out
