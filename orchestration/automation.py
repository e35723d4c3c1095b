"""When things run: a daily schedule and a sensor that reacts to new inbox files."""

from __future__ import annotations

import hashlib
import json

import dagster as dg

from mallcrm.core.inbox import InboxLog, inbox_state
from mallcrm.core.settings import Settings
from orchestration.activation import GROUP as ACTIVATION_GROUP
from orchestration.ml import GROUP as ML_GROUP

refresh_job = dg.define_asset_job(
    "refresh_warehouse",
    # Training, scoring and activation run on their own schedules (orchestration/ml.py, activation.py).
    selection=dg.AssetSelection.all() - dg.AssetSelection.groups(ML_GROUP, ACTIVATION_GROUP),
    description="Load new exports with dlt, then build and test the dbt project.",
)


def build_daily_schedule(settings: Settings) -> dg.ScheduleDefinition:
    return dg.ScheduleDefinition(
        name="daily_refresh",
        job=refresh_job,
        cron_schedule="0 6 * * *",
        execution_timezone=settings.timezone,
        description="Every morning at 06:00 mall time, after the source systems' nightly exports.",
        default_status=dg.DefaultScheduleStatus.RUNNING,
    )


def inbox_fingerprint(settings: Settings) -> tuple[str, int]:
    """A digest of (file, size, mtime) of every complete contract file in the inbox, and
    their count. A file still being written (contract `completeness:`) is left out, so it
    starts no run until it is complete; a misnamed file starts none either (`mallcrm
    doctor` and the ingestion assets' metadata list it)."""
    files = inbox_state(settings.inbox, InboxLog(), wait=False)
    entries = sorted((f.relpath, f.path.stat().st_size, int(f.path.stat().st_mtime)) for f in files)
    digest = hashlib.sha256(json.dumps(entries).encode()).hexdigest()
    return digest, len(entries)


def build_inbox_sensor(settings: Settings) -> dg.SensorDefinition:
    @dg.sensor(
        name="new_exports_in_inbox",
        job=refresh_job,
        minimum_interval_seconds=60,
        description=f"Starts a refresh when files land in or change in the inbox ({settings.inbox}).",
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
    def new_exports_in_inbox(context: dg.SensorEvaluationContext):
        digest, count = inbox_fingerprint(settings)
        if count == 0:
            return dg.SkipReason(f"no export files in {settings.inbox}")
        if digest == context.cursor:
            return dg.SkipReason("no new or changed export files since the last run")
        context.update_cursor(digest)
        return dg.RunRequest(run_key=digest, tags={"mallcrm/trigger": "inbox", "mallcrm/files": str(count)})

    return new_exports_in_inbox
