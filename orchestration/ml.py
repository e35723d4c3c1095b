"""ML assets: weekly training (candidate -> blocking gate -> promotion), daily scoring.

    ml/churn_model_candidate --[check: churn_beats_baseline, blocking]--> ml/churn_model
    ml/clv_model_candidate   --[check: clv_beats_baseline, blocking]---> ml/clv_model
    ml_scores/churn_scores, ml_scores/clv_scores   (daily; the dbt source `ml_scores`)

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


def _candidate_metadata(result) -> dict:
    m = result.metrics
    meta = {
        "version": result.version.version,
        "path": dg.MetadataValue.path(str(result.version.path)),
        "card": dg.MetadataValue.md((result.version.path / "card.md").read_text()),
        "gate_passed": bool(m["gate"]["passed"]),
    }
    if result.model == "churn":
        meta.update({
            "roc_auc": m["validation"]["roc_auc"], "baseline_roc_auc": m["baseline"]["roc_auc"],
            "pr_auc": m["validation"]["pr_auc"], "baseline_pr_auc": m["baseline"]["pr_auc"],
            "lift_top_decile": m["validation"]["lift_top_decile"],
        })
    else:
        meta.update({"winner": m["winner"], "bgnbd_holdout_mae": m["bgnbd_gamma_gamma"]["mae"],
                     "naive_baseline_mae": m["baseline"]["mae"]})
    return meta


def _model_assets(settings: Settings, model: str):
    from ml.registry import Registry

    candidate_key = dg.AssetKey(["ml", f"{model}_model_candidate"])
    promoted_key = dg.AssetKey(["ml", f"{model}_model"])

    @dg.asset(key=candidate_key, group_name=GROUP, deps=[FEATURES_KEY, TRANSACTIONS_KEY], pool=POOL,
              description=f"Train a new {model} model version on the point-in-time features and register it "
                          "(models/<model>/<version>/, not yet promoted).")
    def candidate(context: AssetExecutionContext) -> dg.MaterializeResult:
        from ml import pipeline

        train = pipeline.train_churn if model == "churn" else pipeline.train_clv
        result = train(settings, Registry(), promote=False)
        context.log.info(f"{model} {result.version.version}: {result.reason}")
        return dg.MaterializeResult(metadata=_candidate_metadata(result))

    @dg.asset_check(asset=candidate_key, name=f"{model}_beats_baseline", blocking=True,
                    description="Blocking: the candidate must beat its baseline on the time-split holdout, "
                                "else it is not promoted.")
    def beats_baseline() -> dg.AssetCheckResult:
        registry = Registry()
        versions = registry.versions(model)
        if not versions:
            return dg.AssetCheckResult(passed=False, metadata={"reason": "no candidate registered"})
        metrics = registry.get(model, versions[-1]).metrics
        gate = metrics["gate"]
        return dg.AssetCheckResult(passed=bool(gate["passed"]),
                                   severity=dg.AssetCheckSeverity.ERROR,
                                   metadata={"version": versions[-1], "rule": gate["rule"],
                                             "detail": str(gate.get("detail", ""))})

    @dg.asset(key=promoted_key, group_name=GROUP, deps=[candidate_key],
              description=f"Point models/{model}/CURRENT at the newest candidate (runs only when the "
                          "blocking check passed).")
    def promoted(context: AssetExecutionContext) -> dg.MaterializeResult:
        registry = Registry()
        version = registry.versions(model)[-1]
        if not registry.get(model, version).metrics["gate"]["passed"]:
            raise dg.Failure(f"{model} {version} did not pass its gate; not promoted")
        registry.promote(model, version)
        return dg.MaterializeResult(metadata={"version": version})

    return candidate, beats_baseline, promoted, promoted_key


def _score_asset(settings: Settings, model: str, key: dg.AssetKey, promoted_key: dg.AssetKey):
    @dg.asset(key=key, group_name=GROUP, deps=[promoted_key, FEATURES_KEY, TRANSACTIONS_KEY], pool=POOL,
              description=f"Score every member with the promoted {model} model into {'.'.join(key.path)} "
                          "(read by the member marts as a dbt source).")
    def scores(context: AssetExecutionContext) -> dg.MaterializeResult:
        from ml import pipeline
        from ml.registry import Registry

        score = pipeline.score_churn if model == "churn" else pipeline.score_clv
        df = score(settings, Registry())
        return dg.MaterializeResult(metadata={
            "rows": len(df),
            "model_version": str(df["model_version"].iloc[0]) if len(df) else "",
            "cutoff_date": str(df["cutoff_date"].iloc[0]) if len(df) else "",
        })

    @dg.asset_check(asset=key, name=f"{model}_scores_valid", blocking=True,
                    description="One row per member; scores within their ranges.")
    def scores_valid() -> dg.AssetCheckResult:
        from mallcrm.warehouse import connect

        con = connect(settings.warehouse)
        try:
            col = "churn_probability" if model == "churn" else "predicted_clv"
            hi = "1" if model == "churn" else "1e12"
            rows, dupes, bad = con.sql(
                f"select count(*), count(*) - count(distinct member_id), "
                f"count(*) filter (where {col} is null or {col} < 0 or {col} > {hi}) from {'.'.join(key.path)}"
            ).fetchall()[0]
        finally:
            con.close()
        return dg.AssetCheckResult(passed=bool(rows > 0 and dupes == 0 and bad == 0),
                                   metadata={"rows": rows, "duplicate_members": dupes, "out_of_range": bad})

    return scores, scores_valid


def build_ml_definitions(settings: Settings) -> dg.Definitions:
    assets, checks = [], []
    score_keys, train_keys = [], []
    for model, score_key in (("churn", CHURN_SCORES_KEY), ("clv", CLV_SCORES_KEY)):
        candidate, gate, promoted, promoted_key = _model_assets(settings, model)
        scores, valid = _score_asset(settings, model, score_key, promoted_key)
        assets += [candidate, promoted, scores]
        checks += [gate, valid]
        train_keys += [candidate.key, promoted_key]
        score_keys.append(score_key)

    train_job = dg.define_asset_job(
        "ml_train", selection=dg.AssetSelection.assets(*train_keys),
        description="Train churn and CLV candidates; promote those that beat their baselines.",
    )
    score_job = dg.define_asset_job(
        "ml_score", selection=dg.AssetSelection.assets(*score_keys),
        description="Score every member with the promoted models (ml_scores.*).",
    )
    return dg.Definitions(
        assets=assets,
        asset_checks=checks,
        jobs=[train_job, score_job],
        schedules=[
            dg.ScheduleDefinition(name="ml_weekly_training", job=train_job, cron_schedule="0 4 * * 1",
                                  execution_timezone="Asia/Shanghai",
                                  description="Mondays 04:00 mall time: retrain, gate, promote."),
            dg.ScheduleDefinition(name="ml_daily_scoring", job=score_job, cron_schedule="30 6 * * *",
                                  execution_timezone="Asia/Shanghai",
                                  description="Daily 06:30 mall time, after the 06:00 warehouse refresh."),
        ],
    )
