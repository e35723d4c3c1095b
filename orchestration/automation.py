"""When things run: a daily schedule and a sensor that reacts to new inbox files.

Both start stopped: `mallcrm dev` on a laptop runs nothing by itself. A production
deployment sets MALLCRM_AUTOMATION=on (settings.automation) to start them running, or
turns them on in the UI (Dagster keeps that choice in its instance, $DAGSTER_HOME). The
destructive nightly privacy job has its own switch (orchestration/privacy.py).
"""

from __future__ import annotations

import hashlib
import json

import dagster as dg

from ingestion.sources import FileHashes, already_ingested
from mallcrm.core.contract import InboxFile, load_contract
from mallcrm.core.inbox import InboxLog, inbox_state
from mallcrm.core.lock import WarehouseBusy, write_lock
from mallcrm.core.settings import Settings
from orchestration.activation import GROUP as ACTIVATION_GROUP
from orchestration.ml import GROUP as ML_GROUP

SENSOR = "new_exports_in_inbox"

refresh_job = dg.define_asset_job(
    "refresh_warehouse",
    # Training, scoring and activation run on their own schedules (orchestration/ml.py, activation.py).
    selection=dg.AssetSelection.all() - dg.AssetSelection.groups(ML_GROUP, ACTIVATION_GROUP),
    description="Load new exports with dlt, then build and test the dbt project.",
)


def schedule_status(on: bool) -> dg.DefaultScheduleStatus:
    """The status a schedule starts with before anyone toggles it in the UI."""
    return dg.DefaultScheduleStatus.RUNNING if on else dg.DefaultScheduleStatus.STOPPED


def build_daily_schedule(settings: Settings) -> dg.ScheduleDefinition:
    return dg.ScheduleDefinition(
        name="daily_refresh",
        job=refresh_job,
        cron_schedule="0 6 * * *",
        execution_timezone=settings.timezone,
        description="Every morning at 06:00 mall time, after the source systems' nightly exports "
        "(starts stopped unless MALLCRM_AUTOMATION=on).",
        default_status=schedule_status(settings.automation),
    )


def complete_inbox_files(settings: Settings) -> list[InboxFile]:
    """The contract files of the inbox that are complete. A file still being written
    (contract `completeness:`) is left out, so it starts no run until it is complete; a
    misnamed file starts none either (`mallcrm doctor` and the ingestion assets' metadata
    list it)."""
    return inbox_state(settings.inbox, InboxLog(), wait=False)


def inbox_fingerprint(files: list[InboxFile]) -> str:
    """A digest of (file, size, mtime) of `files`: it changes when a file lands or changes."""
    entries = sorted((f.relpath, f.path.stat().st_size, int(f.path.stat().st_mtime)) for f in files)
    return hashlib.sha256(json.dumps(entries).encode()).hexdigest()


def unloaded_files(settings: Settings, files: list[InboxFile]) -> list[str]:
    """The files whose current content the ingestion ledger (`raw_<system>.ingested_files`,
    read by ingestion.sources.already_ingested) does not hold: what `mallcrm ingest` would
    load. A file's sha256 comes from ingestion's size+mtime cache (FileHashes) when the
    ledger confirms it, so an unchanged inbox is not read again.

    The ledger is read under the warehouse's write lock: opening the DuckDB file beside a
    writer would fail, and would make a writer starting meanwhile fail. Raises
    WarehouseBusy when a run or a command is writing."""
    contract = load_contract()
    with write_lock(settings, f"dagster sensor {SENSOR} (reading the ingestion ledger)"):
        seen = {system: already_ingested(settings, contract.dataset(system)) for system in contract.systems}
    hashes = FileHashes.load(settings)
    unloaded = []
    for file in files:
        loaded = seen[file.export.system].latest.get(file.relpath)
        if loaded is None or hashes.sha256(file, unchanged_from=loaded) != loaded:
            unloaded.append(file.relpath)
    return unloaded


def build_inbox_sensor(settings: Settings) -> dg.SensorDefinition:
    @dg.sensor(
        name=SENSOR,
        job=refresh_job,
        minimum_interval_seconds=60,
        description=f"Starts a refresh when files land in or change in the inbox ({settings.inbox}) that "
        "the ingestion ledger has not loaded (starts stopped unless MALLCRM_AUTOMATION=on).",
        default_status=dg.DefaultSensorStatus.RUNNING if settings.automation else dg.DefaultSensorStatus.STOPPED,
    )
    def new_exports_in_inbox(context: dg.SensorEvaluationContext):
        """The cursor is the fingerprint of the inbox last looked at; only when it changed is
        the ledger asked which files are unloaded. A first evaluation (no cursor) on an inbox
        that is already loaded therefore starts nothing."""
        files = complete_inbox_files(settings)
        if not files:
            return dg.SkipReason(f"no export files in {settings.inbox}")
        digest = inbox_fingerprint(files)
        if digest == context.cursor:
            return dg.SkipReason("no new or changed export files since the last evaluation")
        try:
            unloaded = unloaded_files(settings, files)
        except WarehouseBusy as busy:  # the cursor stays: looked at again next evaluation
            return dg.SkipReason(f"the warehouse is being written ({busy}); the inbox is looked at again later")
        context.update_cursor(digest)
        if not unloaded:
            return dg.SkipReason(f"all {len(files)} export files in the inbox are loaded already")
        return dg.RunRequest(
            run_key=digest,
            tags={"mallcrm/trigger": "inbox", "mallcrm/files": str(len(unloaded))},
        )

    return new_exports_in_inbox
