"""Privacy in Dagster: the daily retention purge and data-subject requests job.

    privacy_daily: process_requests -> retention_purge -> audit_chain_check

Ops, not assets: they change what the warehouse holds rather than produce a table, and
must stay out of the `refresh_warehouse` asset job. The work is pipeline.steps.process_requests
and purge, as in the CLI.

The job deletes data, so its schedule starts stopped even when MALLCRM_AUTOMATION=on: it
runs nightly only with MALLCRM_PRIVACY_AUTOMATION=on (settings.privacy_automation) or once
turned on in the UI. The purge counts as of privacy.retention.as_of_date, like the Soda
retention checks and the compliance report.
Wire in with `dg.Definitions.merge(..., build_privacy_definitions(settings))`.
"""

import dagster as dg

from mallcrm.core.settings import Settings
from orchestration.automation import schedule_status
from orchestration.resources import WRITER, warehouse_writer
from pipeline import steps
from privacy.audit import verify

POOL = "duckdb_warehouse"


def build_privacy_definitions(settings: Settings, writer: dg.ResourceDefinition | None = None) -> dg.Definitions:
    """The privacy job and its schedule; `writer` is the shared write-lock resource."""

    @dg.op(
        pool=POOL,
        required_resource_keys={WRITER},
        description="Act on the data-subject requests waiting in the requests inbox.",
    )
    def process_requests(context: dg.OpExecutionContext) -> int:
        done, problems = steps.process_requests(settings)
        for d in done:
            context.log.info(f"request {d['request_id']} ({d['type']}): {d['status']}")
        for p in problems:
            context.log.warning(p)
        failed = [d for d in done if d["status"] != "done"]
        if failed or problems:
            names = ", ".join(d["request_id"] for d in failed)
            raise dg.Failure(f"{len(failed)} request(s) failed{': ' + names if names else ''}; problems: {problems}")
        return len(done)

    @dg.op(
        pool=POOL,
        required_resource_keys={WRITER},
        description="Apply privacy/policy.yml retention to every table; counts to the audit log.",
    )
    def retention_purge(context: dg.OpExecutionContext, _requests: int) -> int:
        result = steps.purge(settings)
        for label, t in result.tables.items():
            if t["expired"]:
                context.log.info(f"{label}: {t['expiry']} {t['expired']} of {t['rows_before']}")
        if not result.finished:
            raise dg.Failure("dbt rebuild after the retention purge failed; the next run finishes the purge")
        context.add_output_metadata({"rows_expired": result.affected, "as_of": str(result.as_of)})
        return result.affected

    @dg.op(description="Verify the audit log's hash chain; fails naming the first altered entry.")
    def audit_chain_check(context: dg.OpExecutionContext, _purged: int) -> None:
        problems = verify(settings)
        if problems:
            raise dg.Failure("audit log tampered: " + "; ".join(str(p) for p in problems))

    @dg.job(name="privacy_daily", description="Data-subject requests, retention purge, audit chain check.")
    def privacy_daily():
        audit_chain_check(retention_purge(process_requests()))

    schedule = dg.ScheduleDefinition(
        name="privacy_daily_schedule",
        job=privacy_daily,
        cron_schedule="0 3 * * *",
        execution_timezone=settings.timezone,
        description="Every night at 03:00 mall time, before the 06:00 refresh. Deletes data: starts "
        "stopped unless MALLCRM_PRIVACY_AUTOMATION=on.",
        default_status=schedule_status(settings.privacy_automation),
    )
    return dg.Definitions(
        jobs=[privacy_daily], schedules=[schedule], resources={WRITER: writer or warehouse_writer(settings)}
    )
