"""The serving asset: the marts published to PostgreSQL for BI tools after every build
(pipeline.steps.publish_postgres, as `mallcrm publish-postgres`).

It runs after the marts and the role files (the same policy, applied to the same build).
Without a PostgreSQL to publish to (no MALLCRM_POSTGRES_DSN and the local server not
running) it is skipped with a message saying how to start one: a mall without BI tools
on PostgreSQL runs the rest of the pipeline unchanged.
"""

import dagster as dg

from mallcrm.core.settings import Settings
from orchestration.publish import ROLE_FILES_KEY
from orchestration.resources import WRITER
from pipeline import steps
from postgres import server as postgres_server
from serving.publish import ServingUnavailable

SERVING_KEY = dg.AssetKey(["serving", "postgres"])


def build_serving_assets(settings: Settings, mart_keys: list[dg.AssetKey]) -> list[dg.AssetsDefinition]:
    @dg.asset(
        key=SERVING_KEY,
        deps=[*mart_keys, ROLE_FILES_KEY],
        group_name="publish",
        kinds={"postgres"},
        pool="duckdb_warehouse",
        required_resource_keys={WRITER},
        output_required=False,
        description=(
            "The marts in PostgreSQL for BI tools: a login per policy role, GRANTs, row-level security, "
            "dbt docs as comments, metric views (mallcrm publish-postgres, docs/bi-tools.md). "
            "Skipped when no PostgreSQL is configured or running."
        ),
    )
    def postgres_marts(context: dg.AssetExecutionContext):
        state = postgres_server.status(settings)
        if not state.running:
            context.log.warning(
                f"serving/postgres skipped: PostgreSQL {state.address} is not running "
                "(start it with `mallcrm postgres up` / make pg-up, or set MALLCRM_POSTGRES_DSN)"
            )
            return
        try:
            report = steps.publish_postgres(settings)
        except ServingUnavailable as error:
            context.log.warning(f"serving/postgres skipped: {error}")
            return
        yield dg.MaterializeResult(
            metadata={
                "address": report.address,
                "tables": len(report.tables),
                "rows": sum(report.tables.values()),
                "metric_views": len(report.metric_views),
                "logins": sum(len(r["logins"]) for r in report.roles.values()),
                "seconds": round(report.seconds, 1),
            }
        )

    return [postgres_marts]
