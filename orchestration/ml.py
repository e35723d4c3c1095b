"""ML assets for every model of ml.models.MODELS: weekly training (candidate -> blocking
gate -> promotion) and daily scoring.

    ml/<model>_model_candidate --[check: <model>_beats_baseline, blocking]--> ml/<model>_model
    ml_scores/<table>   (daily; the dbt source `ml_scores`)

The score assets carry the keys dagster-dbt gives the dbt source `ml_scores` tables
([source_name, table]), so the member marts that read them sit downstream in the
lineage. The work is pipeline.steps.train / score, as in the CLI: a candidate whose data,
settings and code are those of the promoted (or newest) version is not retrained (run
config `force: true` retrains it anyway).
"""

import dagster as dg

from mallcrm.core.settings import Settings
from ml import complaint_topics
from ml.models import MODELS, SCORES_SCHEMA, ModelSpec
from ml.registry import Registry
from orchestration.resources import WRITER, warehouse_writer
from pipeline import steps
from quality.runner import score_table_health

GROUP = "ml"
POOL = "duckdb_warehouse"


class TrainConfig(dg.Config):
    """Run config of a candidate asset."""

    force: bool = False  # retrain even when the data, settings and code are unchanged


def _key(relation: str) -> dg.AssetKey:
    """The asset key of a warehouse relation `schema.table` (dbt models: [schema, model])."""
    return dg.AssetKey(relation.split("."))


def _candidate_metadata(spec: ModelSpec, result) -> dict:
    return {
        "version": result.version.version,
        "path": dg.MetadataValue.path(str(result.version.path)),
        "card": dg.MetadataValue.md((result.version.path / "card.md").read_text()),
        "gate_passed": bool(result.metrics["gate"]["passed"]),
        "retrained": result.retrained,
        **spec.card_metrics(result.metrics),
    }


def _model_assets(settings: Settings, spec: ModelSpec):
    candidate_key = dg.AssetKey(["ml", f"{spec.name}_model_candidate"])
    promoted_key = dg.AssetKey(["ml", f"{spec.name}_model"])

    @dg.asset(
        key=candidate_key,
        group_name=GROUP,
        deps=[_key(r) for r in spec.reads],
        pool=POOL,
        required_resource_keys={WRITER},
        description=f"Train a new {spec.title} version on the point-in-time features and register it "
        "(models/<model>/<version>/, not yet promoted); unchanged data, settings and code: not retrained "
        "(config force: true retrains).",
    )
    def candidate(context: dg.AssetExecutionContext, config: TrainConfig) -> dg.MaterializeResult:
        (result,) = steps.train(
            settings, [spec.name], promote=False, command=f"dagster train {spec.name}", force=config.force
        )
        context.log.info(f"{spec.name} {result.version.version}: {result.reason}")
        return dg.MaterializeResult(metadata=_candidate_metadata(spec, result))

    @dg.asset_check(
        asset=candidate_key,
        name=f"{spec.name}_beats_baseline",
        blocking=True,
        description="Blocking: the candidate must beat its baseline on the time-split holdout, "
        "else it is not promoted.",
    )
    def beats_baseline() -> dg.AssetCheckResult:
        registry = Registry(settings.models_dir)
        versions = registry.versions(spec.name)
        if not versions:
            return dg.AssetCheckResult(passed=False, metadata={"reason": "no candidate registered"})
        gate = registry.get(spec.name, versions[-1]).metrics["gate"]
        return dg.AssetCheckResult(
            passed=bool(gate["passed"]),
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={"version": versions[-1], "rule": gate["rule"], "detail": str(gate.get("detail", ""))},
        )

    @dg.asset(
        key=promoted_key,
        group_name=GROUP,
        deps=[candidate_key],
        description=f"Point models/{spec.name}/CURRENT at the newest candidate (runs only when the "
        "blocking check passed).",
    )
    def promoted(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        try:
            version = steps.promote(settings, spec.name, command=f"dagster promote {spec.name}")
        except steps.ModelNotPromoted as error:
            raise dg.Failure(str(error)) from None
        return dg.MaterializeResult(metadata={"version": version})

    return candidate, beats_baseline, promoted, promoted_key


def _score_asset(settings: Settings, spec: ModelSpec, promoted_key: dg.AssetKey):
    key = _key(spec.score_relation)

    @dg.asset(
        key=key,
        group_name=GROUP,
        deps=[promoted_key, *(_key(r) for r in spec.reads)],
        pool=POOL,
        required_resource_keys={WRITER},
        description=f"Score with the promoted {spec.title} model into {spec.score_relation} "
        "(read by the member marts as a dbt source).",
    )
    def scores(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        (result,) = steps.score(settings, [spec.name], command=f"dagster score {spec.name}")
        if result.model_version is None:
            raise dg.Failure(f"no promoted {spec.name} model in {settings.models_dir}: run the ml_train job first")
        frame = result.frame
        cutoff = str(frame["cutoff_date"].iloc[0]) if len(frame) and "cutoff_date" in frame else ""
        return dg.MaterializeResult(
            metadata={"rows": result.rows, "model_version": result.model_version, "cutoff_date": cutoff}
        )

    @dg.asset_check(
        asset=key,
        name=f"{spec.name}_scores_valid",
        blocking=True,
        description="Rows written, no duplicate keys, scores within their ranges.",
    )
    def scores_valid() -> dg.AssetCheckResult:
        health = score_table_health(settings, spec.score_check_sql, spec.score_relation)
        return dg.AssetCheckResult(passed=health.passed, metadata=health.metadata)

    return scores, scores_valid


def _complaint_root_causes_asset(settings: Settings) -> dg.AssetsDefinition:
    reads = (complaint_topics.SOURCE_RELATION, complaint_topics.STORES_RELATION)

    @dg.asset(
        key=_key(f"{SCORES_SCHEMA}.{complaint_topics.SCORE_TABLE}"),
        group_name=GROUP,
        deps=[_key(r) for r in reads],
        pool=POOL,
        required_resource_keys={WRITER},
        description="Root cause and terms of every complaint from its scrubbed text (jieba, "
        "ml/complaint_root_causes.yml) into ml_scores.complaint_root_causes (a dbt source).",
    )
    def complaint_root_causes() -> dg.MaterializeResult:
        rows = steps.complaint_root_causes(settings, command="dagster complaint root causes")
        return dg.MaterializeResult(metadata={"rows": rows})

    return complaint_root_causes


def build_ml_definitions(settings: Settings, writer: dg.ResourceDefinition | None = None) -> dg.Definitions:
    """The ML assets, checks, jobs and schedules; `writer` is the shared write-lock resource."""
    assets, checks, score_keys, train_keys = [], [], [], []
    for spec in MODELS:
        candidate, gate, promoted, promoted_key = _model_assets(settings, spec)
        scores, valid = _score_asset(settings, spec, promoted_key)
        assets += [candidate, promoted, scores]
        checks += [gate, valid]
        train_keys += [candidate.key, promoted_key]
        score_keys.append(scores.key)
    root_causes = _complaint_root_causes_asset(settings)
    assets.append(root_causes)
    score_keys.append(root_causes.key)
    names = ", ".join(spec.name for spec in MODELS)
    train_job = dg.define_asset_job(
        "ml_train",
        selection=dg.AssetSelection.assets(*train_keys),
        description=f"Train candidates of {names}; promote those that beat their baselines.",
    )
    score_job = dg.define_asset_job(
        "ml_score",
        selection=dg.AssetSelection.assets(*score_keys),
        description=f"Score with the promoted {names} models (ml_scores.*).",
    )
    return dg.Definitions(
        assets=assets,
        asset_checks=checks,
        jobs=[train_job, score_job],
        resources={WRITER: writer or warehouse_writer(settings)},
        schedules=[
            dg.ScheduleDefinition(
                name="ml_weekly_training",
                job=train_job,
                cron_schedule="0 4 * * 1",
                execution_timezone=settings.timezone,
                description="Mondays 04:00 mall time: retrain, gate, promote.",
            ),
            dg.ScheduleDefinition(
                name="ml_daily_scoring",
                job=score_job,
                cron_schedule="30 6 * * *",
                execution_timezone=settings.timezone,
                description="Daily 06:30 mall time, after the 06:00 warehouse refresh.",
            ),
        ],
    )
