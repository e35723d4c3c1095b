"""Activation assets: the audiences are built, gated and exported every morning.

    audiences/aud_<name> (dbt) -> activation/{runs, gate_results, assignments, channel_coverage}
        --[checks: audience_gate_<gate>, blocking]--> activation/exports (files + PostgreSQL)

The ledger assets carry the keys dagster-dbt gives the dbt source `activation`
([source_name, table]), so the activation marts sit downstream of them in the lineage.
The blocking checks run every gate of privacy/policy.yml again over the members about
to leave; the export asset runs only when all pass (and checks them once more itself).
The work is pipeline.steps.audiences_build / audiences_export / audiences_deliver, as in
`mallcrm audiences build|export --deliver`.
"""

from datetime import date

import dagster as dg

from activation.export import ExportRefused, pending_violations
from activation.gates import GATES
from activation.ledger import TABLES
from activation.spec import load_audiences
from mallcrm.core.settings import Settings
from orchestration.resources import WRITER, warehouse_writer
from pipeline import steps
from postgres import server as postgres_server

GROUP = "activation"
POOL = "duckdb_warehouse"
LEDGER_KEYS = [dg.AssetKey(["activation", table]) for table in TABLES]
RUNS_KEY = dg.AssetKey(["activation", "runs"])
EXPORTS_KEY = dg.AssetKey(["activation", "exports"])


def _gate_check(settings: Settings, gate: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=RUNS_KEY,
        name=f"audience_gate_{gate}",
        blocking=True,
        description=f"Blocking: no member of a built, not yet exported run breaks the gate '{gate}' "
        "(privacy/policy.yml activation.gates), checked as of now.",
    )
    def gate_check() -> dg.AssetCheckResult:
        violations = pending_violations(settings)[gate]
        return dg.AssetCheckResult(
            passed=not violations,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={"violations": dg.MetadataValue.json(violations)},
        )

    return gate_check


def build_activation_definitions(settings: Settings, writer: dg.ResourceDefinition | None = None) -> dg.Definitions:
    audience_keys = [dg.AssetKey(["audiences", a.model]) for a in load_audiences()]

    @dg.multi_asset(
        specs=[
            dg.AssetSpec(
                key, group_name=GROUP, deps=audience_keys, kinds={"duckdb"}, description=f"activation.{key.path[-1]}"
            )
            for key in LEDGER_KEYS
        ],
        pool=POOL,
        required_resource_keys={WRITER},
        description="Build every due audience: definition -> gates -> holdout -> ledger (mallcrm audiences build).",
    )
    def audience_ledger(context: dg.AssetExecutionContext):
        runs = steps.audiences_build(settings, command="dagster audiences build")
        built = [r for r in runs if r.status == "built"]
        context.log.info(f"{len(built)} audience run(s) built, {len(runs) - len(built)} not due or already exported")
        for key in LEDGER_KEYS:
            yield dg.MaterializeResult(
                asset_key=key,
                metadata={
                    "runs_built": len(built),
                    "to_contact": sum(r.treatment for r in built),
                    "held_out": sum(r.control for r in built),
                },
            )

    @dg.asset(
        key=EXPORTS_KEY,
        deps=LEDGER_KEYS,
        group_name=GROUP,
        kinds={"duckdb", "postgres"},
        pool=POOL,
        required_resource_keys={WRITER},
        description="Export the built audiences into the outbox (CSV, JSONL, holdout, manifest, audit entry) "
        "and deliver them to PostgreSQL for the marketing tool (mallcrm audiences export --deliver).",
    )
    def audience_exports(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        try:
            summaries = steps.audiences_export(settings, command="dagster audiences export")
        except ExportRefused as error:
            raise dg.Failure(str(error)) from None
        dates = [date.fromisoformat(s.run_id.split("@")[1]) for s in summaries]
        delivered = 0
        if dates and not settings.postgres_dsn and not postgres_server.binaries_installed():
            context.log.warning("not delivered: no PostgreSQL here (set MALLCRM_POSTGRES_DSN or `make postgres-deps`)")
            dates = []
        if dates:
            postgres_server.up(settings)
            reports = steps.audiences_deliver(settings, dates)
            delivered = sum(len(r.delivered) for r in reports)
            refused = [e for r in reports for e in r.refused]
            if refused:
                raise dg.Failure(f"PostgreSQL delivery refused: {[(e.run_id, e.reason) for e in refused]}")
        return dg.MaterializeResult(
            metadata={
                "exports": len(summaries),
                "to_contact": sum(s.rows for s in summaries),
                "held_out": sum(s.held_out for s in summaries),
                "delivered_to_postgres": delivered,
                "outbox": dg.MetadataValue.path(str(settings.outbox / "audiences")),
            }
        )

    job = dg.define_asset_job(
        "activation_daily",
        selection=dg.AssetSelection.assets(*LEDGER_KEYS, EXPORTS_KEY),
        description="Build, gate, export and deliver the audiences of audiences/*.yml.",
    )
    return dg.Definitions(
        assets=[audience_ledger, audience_exports],
        asset_checks=[_gate_check(settings, gate) for gate in GATES],
        jobs=[job],
        resources={WRITER: writer or warehouse_writer(settings)},
        schedules=[
            dg.ScheduleDefinition(
                name="activation_daily_schedule",
                job=job,
                cron_schedule="0 7 * * *",
                execution_timezone=settings.timezone,
                description="Daily 07:00 mall time, after the refresh (06:00) and the scoring (06:30).",
            )
        ],
    )
