"""ML assets: weekly training (candidate -> blocking gate -> promotion), daily scoring.

    ml/<model>_model_candidate --[check: <model>_beats_baseline, blocking]--> ml/<model>_model
    ml_scores/<table>   (daily; the dbt source `ml_scores`)

for churn, clv (ml.pipeline) and segmentation, basket_rules, recommendations
(ml.behaviour). Score tables: churn_scores, clv_scores, member_segments, basket_rules,
member_recommendations.

The score assets carry the keys dagster-dbt gives the dbt source `ml_scores` tables
([source_name, table]), so the member marts that read them sit downstream in the
lineage. Everything here writes the one DuckDB file: assets share the dbt pool.
Wire in with `dg.Definitions.merge(..., build_ml_definitions(settings))`.
"""

import dagster as dg
from dagster import AssetExecutionContext

from mallcrm.settings import Settings

GROUP = "ml"
POOL = "duckdb_warehouse"
# dbt asset keys (MallDbtTranslator: [schema, model]).
FEATURES_KEY = dg.AssetKey(["ml_features", "ml_member_features"])
TRANSACTIONS_KEY = dg.AssetKey(["marts", "fct_transactions"])
CHURN_SCORES_KEY = dg.AssetKey(["ml_scores", "churn_scores"])
CLV_SCORES_KEY = dg.AssetKey(["ml_scores", "clv_scores"])
SEGMENT_FEATURES_KEY = dg.AssetKey(["ml_features", "ml_member_segment_features"])
SALES_LINES_KEY = dg.AssetKey(["marts", "fct_sales_lines"])
SEGMENTS_KEY = dg.AssetKey(["ml_scores", "member_segments"])
BASKET_RULES_KEY = dg.AssetKey(["ml_scores", "basket_rules"])
RECOMMENDATIONS_KEY = dg.AssetKey(["ml_scores", "member_recommendations"])

# model -> (upstream dbt assets, score table key)
MODELS = {
    "churn": ([FEATURES_KEY, TRANSACTIONS_KEY], CHURN_SCORES_KEY),
    "clv": ([FEATURES_KEY, TRANSACTIONS_KEY], CLV_SCORES_KEY),
    "segmentation": ([SEGMENT_FEATURES_KEY], SEGMENTS_KEY),
    "basket_rules": ([SALES_LINES_KEY], BASKET_RULES_KEY),
    "recommendations": ([SALES_LINES_KEY], RECOMMENDATIONS_KEY),
}
# score table -> SQL returning (rows, duplicate keys, out-of-range values)
_SCORE_CHECKS = {
    "churn_scores": "select count(*), count(*) - count(distinct member_id), count(*) filter (where "
    "churn_probability is null or churn_probability < 0 or churn_probability > 1) from {t}",
    "clv_scores": "select count(*), count(*) - count(distinct member_id), count(*) filter (where "
    "predicted_clv is null or predicted_clv < 0 or predicted_clv > 1e12) from {t}",
    "member_segments": "select count(*), count(*) - count(distinct member_id), count(*) filter (where "
    "segment_name is null or segment_id < 0) from {t}",
    "basket_rules": "select count(*), count(*) - count(distinct (level, antecedents, consequents)), count(*) "
    "filter (where lift <= 1 or confidence not between 0 and 1 or support not between 0 and 1) "
    "from {t}",
    "member_recommendations": "select count(*), count(*) - count(distinct (member_id, sku)), count(*) filter "
    "(where rank < 1 or rank > 10 or score is null) from {t}",
}


def _candidate_metadata(result) -> dict:
    m = result.metrics
    meta = {
        "version": result.version.version,
        "path": dg.MetadataValue.path(str(result.version.path)),
        "card": dg.MetadataValue.md((result.version.path / "card.md").read_text()),
        "gate_passed": bool(m["gate"]["passed"]),
    }
    if result.model in ("segmentation", "basket_rules", "recommendations"):
        meta["detail"] = m["gate"]["detail"]
    elif result.model == "churn":
        meta.update(
            {
                "roc_auc": m["validation"]["roc_auc"],
                "baseline_roc_auc": m["baseline"]["roc_auc"],
                "pr_auc": m["validation"]["pr_auc"],
                "baseline_pr_auc": m["baseline"]["pr_auc"],
                "lift_top_decile": m["validation"]["lift_top_decile"],
            }
        )
    else:
        meta.update(
            {
                "winner": m["winner"],
                "bgnbd_holdout_mae": m["bgnbd_gamma_gamma"]["mae"],
                "naive_baseline_mae": m["baseline"]["mae"],
            }
        )
    return meta


def _trainer(model: str):
    from ml import behaviour, pipeline

    return {"churn": pipeline.train_churn, "clv": pipeline.train_clv, **behaviour.TRAINERS}[model]


def _scorer(model: str):
    from ml import behaviour, pipeline

    return {"churn": pipeline.score_churn, "clv": pipeline.score_clv, **behaviour.SCORERS}[model]


def _model_assets(settings: Settings, model: str):
    from ml.registry import Registry

    candidate_key = dg.AssetKey(["ml", f"{model}_model_candidate"])
    promoted_key = dg.AssetKey(["ml", f"{model}_model"])

    @dg.asset(
        key=candidate_key,
        group_name=GROUP,
        deps=MODELS[model][0],
        pool=POOL,
        description=f"Train a new {model} model version on the point-in-time features and register it "
        "(models/<model>/<version>/, not yet promoted).",
    )
    def candidate(context: AssetExecutionContext) -> dg.MaterializeResult:
        result = _trainer(model)(settings, Registry(), promote=False)
        context.log.info(f"{model} {result.version.version}: {result.reason}")
        return dg.MaterializeResult(metadata=_candidate_metadata(result))

    @dg.asset_check(
        asset=candidate_key,
        name=f"{model}_beats_baseline",
        blocking=True,
        description="Blocking: the candidate must beat its baseline on the time-split holdout, "
        "else it is not promoted.",
    )
    def beats_baseline() -> dg.AssetCheckResult:
        registry = Registry()
        versions = registry.versions(model)
        if not versions:
            return dg.AssetCheckResult(passed=False, metadata={"reason": "no candidate registered"})
        metrics = registry.get(model, versions[-1]).metrics
        gate = metrics["gate"]
        return dg.AssetCheckResult(
            passed=bool(gate["passed"]),
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={"version": versions[-1], "rule": gate["rule"], "detail": str(gate.get("detail", ""))},
        )

    @dg.asset(
        key=promoted_key,
        group_name=GROUP,
        deps=[candidate_key],
        description=f"Point models/{model}/CURRENT at the newest candidate (runs only when the blocking check passed).",
    )
    def promoted(context: AssetExecutionContext) -> dg.MaterializeResult:
        registry = Registry()
        version = registry.versions(model)[-1]
        if not registry.get(model, version).metrics["gate"]["passed"]:
            raise dg.Failure(f"{model} {version} did not pass its gate; not promoted")
        registry.promote(model, version)
        return dg.MaterializeResult(metadata={"version": version})

    return candidate, beats_baseline, promoted, promoted_key


def _score_asset(settings: Settings, model: str, key: dg.AssetKey, promoted_key: dg.AssetKey):
    @dg.asset(
        key=key,
        group_name=GROUP,
        deps=[promoted_key, *MODELS[model][0]],
        pool=POOL,
        description=f"Score every member with the promoted {model} model into {'.'.join(key.path)} "
        "(read by the member marts as a dbt source).",
    )
    def scores(context: AssetExecutionContext) -> dg.MaterializeResult:
        from ml.registry import Registry

        df = _scorer(model)(settings, Registry())
        return dg.MaterializeResult(
            metadata={
                "rows": len(df),
                "model_version": str(df["model_version"].iloc[0]) if len(df) else "",
                "cutoff_date": str(df["cutoff_date"].iloc[0]) if len(df) and "cutoff_date" in df else "",
            }
        )

    @dg.asset_check(
        asset=key,
        name=f"{model}_scores_valid",
        blocking=True,
        description="Rows written, no duplicate keys, scores within their ranges.",
    )
    def scores_valid() -> dg.AssetCheckResult:
        from mallcrm.warehouse import connect

        con = connect(settings.warehouse)
        try:
            rows, dupes, bad = con.sql(_SCORE_CHECKS[key.path[-1]].format(t=".".join(key.path))).fetchall()[0]
        finally:
            con.close()
        return dg.AssetCheckResult(
            passed=bool(rows > 0 and dupes == 0 and bad == 0),
            metadata={"rows": rows, "duplicate_keys": dupes, "out_of_range": bad},
        )

    return scores, scores_valid


def build_ml_definitions(settings: Settings) -> dg.Definitions:
    assets, checks = [], []
    score_keys, train_keys = [], []
    for model, (_, score_key) in MODELS.items():
        candidate, gate, promoted, promoted_key = _model_assets(settings, model)
        scores, valid = _score_asset(settings, model, score_key, promoted_key)
        assets += [candidate, promoted, scores]
        checks += [gate, valid]
        train_keys += [candidate.key, promoted_key]
        score_keys.append(score_key)

    train_job = dg.define_asset_job(
        "ml_train",
        selection=dg.AssetSelection.assets(*train_keys),
        description="Train churn, CLV, segmentation, basket-rule and recommendation candidates; promote "
        "those that beat their baselines.",
    )
    score_job = dg.define_asset_job(
        "ml_score",
        selection=dg.AssetSelection.assets(*score_keys),
        description="Score every member with the promoted models (ml_scores.*).",
    )
    return dg.Definitions(
        assets=assets,
        asset_checks=checks,
        jobs=[train_job, score_job],
        schedules=[
            dg.ScheduleDefinition(
                name="ml_weekly_training",
                job=train_job,
                cron_schedule="0 4 * * 1",
                execution_timezone="Asia/Shanghai",
                description="Mondays 04:00 mall time: retrain, gate, promote.",
            ),
            dg.ScheduleDefinition(
                name="ml_daily_scoring",
                job=score_job,
                cron_schedule="30 6 * * *",
                execution_timezone="Asia/Shanghai",
                description="Daily 06:30 mall time, after the 06:00 warehouse refresh.",
            ),
        ],
    )
