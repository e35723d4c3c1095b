"""The Dagster Definitions: loadable, connected lineage, and a real run equal to the CLI's;
automation stopped unless switched on; the inbox sensor starts nothing for loaded files; the
retention check, the compliance report and the purge count as of one day."""

from __future__ import annotations

import os
import re
import shutil
import time
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest

from cli.summary import table_counts
from mallcrm.core.contract import load_contract
from mallcrm.core.settings import DBT_PROJECT_DIR, SettingsError, load_settings
from mallcrm.core.warehouse import connect
from orchestration.automation import build_daily_schedule, build_inbox_sensor
from orchestration.definitions import DBT_EXECUTABLE, build_definitions
from orchestration.privacy import build_privacy_definitions
from orchestration.quality import build_quality_definitions
from pipeline import steps
from privacy.policy import load_policy
from privacy.report import render
from privacy.retention import as_of_date, expired_counts
from tests.conftest import generate_mall, mall_environment, settings_for

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def defs(tmp_path_factory):
    with mall_environment(tmp_path_factory.mktemp("defs")) as settings:
        yield build_definitions(settings)


def test_definitions_load_and_validate(defs):
    dg.Definitions.validate_loadable(defs)
    repo = defs.get_repository_def()
    assert repo.get_job("refresh_warehouse")
    schedules = {
        "daily_refresh",
        "ml_weekly_training",
        "ml_daily_scoring",
        "privacy_daily_schedule",
        "activation_daily_schedule",
    }
    assert {s.name for s in repo.schedule_defs} == schedules
    jobs = {"refresh_warehouse", "ml_train", "ml_score", "privacy_daily", "activation_daily"}
    assert {j.name for j in repo.get_all_jobs()} >= jobs
    assert {s.name for s in repo.sensor_defs} == {"new_exports_in_inbox"}
    # nothing starts by itself in a development instance: every schedule and the sensor stopped
    assert {s.name: s.default_status for s in repo.schedule_defs} == dict.fromkeys(
        schedules, dg.DefaultScheduleStatus.STOPPED
    )
    assert repo.get_sensor_def("new_exports_in_inbox").default_status == dg.DefaultSensorStatus.STOPPED


def test_automation_settings_start_the_refresh_and_only_their_own_switch_the_purge(tmp_path):
    assert load_settings({}).automation is False and load_settings({}).privacy_automation is False
    on = load_settings({"MALLCRM_AUTOMATION": "on"})
    assert on.automation and not on.privacy_automation
    with pytest.raises(SettingsError, match="MALLCRM_AUTOMATION='yes' must be on or off"):
        load_settings({"MALLCRM_AUTOMATION": "yes"})

    def statuses(settings):
        (privacy,) = build_privacy_definitions(settings).schedules
        return (
            build_daily_schedule(settings).default_status.value,
            build_inbox_sensor(settings).default_status.value,
            privacy.default_status.value,
        )

    settings = settings_for(tmp_path)
    assert statuses(settings) == ("STOPPED", "STOPPED", "STOPPED")
    assert statuses(replace(settings, automation=True)) == ("RUNNING", "RUNNING", "STOPPED")
    assert statuses(replace(settings, privacy_automation=True)) == ("STOPPED", "STOPPED", "RUNNING")


def _descendants(graph, key: dg.AssetKey) -> set[dg.AssetKey]:
    seen: set[dg.AssetKey] = set()
    todo = [key]
    while todo:
        for child in graph.get(todo.pop()).child_keys:
            if child not in seen:
                seen.add(child)
                todo.append(child)
    return seen


def test_lineage_runs_from_every_export_to_its_staging_model(defs):
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    for export in load_contract().formats:
        inbox_key = dg.AssetKey(["inbox", export.system, export.entity])
        raw_key = dg.AssetKey([export.dataset, export.entity])
        assert graph.has(raw_key), f"no dlt asset for {raw_key.to_user_string()}"
        assert graph.get(raw_key).is_materializable
        assert inbox_key in graph.get(raw_key).parent_keys
        downstream = _descendants(graph, raw_key)
        staging = [k for k in downstream if k.path[-1] == f"stg_{export.system}__{export.entity}"]
        assert staging, f"{raw_key.to_user_string()} feeds no staging model (keys: {sorted(keys)[:5]}...)"
    # every raw dbt source is produced by a dlt asset: no dangling raw inputs
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        if key.path[0].startswith("raw_") and not node.is_materializable:
            pytest.fail(f"{key.to_user_string()} is a raw source that no dlt asset produces")


def _refreshed(counts: dict) -> dict:
    """Table counts without the complaint root causes: a scoring step (Dagster's ml_score job,
    which the session's small mall runs after its build), not part of the refresh job."""
    kept = {schema: dict(tables) for schema, tables in counts.items() if schema != "ml_scores"}
    kept.get("marts", {}).pop("mart_complaint_root_causes_monthly", None)
    return kept


def test_refresh_job_materializes_the_same_warehouse_as_the_cli(tmp_path, small_mall_exports, built_mall):
    cli_settings, _, cli_ok = built_mall
    assert cli_ok
    shutil.copytree(small_mall_exports[0], tmp_path / "inbox")
    started = time.time()
    with mall_environment(tmp_path) as settings:
        definitions = build_definitions(settings)
        result = definitions.resolve_job_def("refresh_warehouse").execute_in_process(
            instance=dg.DagsterInstance.ephemeral()
        )
        assert result.success
        via_dagster = table_counts(settings)
    assert _refreshed(via_dagster) == _refreshed(table_counts(cli_settings))
    # dbt wrote to the one folder the next run partial-parses from (dagster_target_path)
    artifacts = DBT_PROJECT_DIR / "target" / "dagster"
    assert (artifacts / "run_results.json").stat().st_mtime >= started
    assert (artifacts / "partial_parse.msgpack").stat().st_mtime >= started


def _settled(inbox: Path) -> None:
    """Files older than the contract's settle time (2 s), however recently generated."""
    past = time.time() - 60
    for path in inbox.rglob("*"):
        os.utime(path, (past, past))


def test_sensor_requests_a_run_only_for_new_files(tmp_path, small_mall_exports):
    with mall_environment(tmp_path) as settings:
        definitions = build_definitions(settings)
        sensor = definitions.resolve_sensor_def("new_exports_in_inbox")
        with dg.build_sensor_context() as ctx:
            assert isinstance(sensor(ctx), dg.SkipReason)  # empty inbox
        shutil.copytree(small_mall_exports[0], settings.inbox)
        _settled(settings.inbox)
        with dg.build_sensor_context() as ctx:
            first = sensor(ctx)
            assert isinstance(first, dg.RunRequest)
            cursor = ctx.cursor
        with dg.build_sensor_context(cursor=cursor) as ctx:
            assert isinstance(sensor(ctx), dg.SkipReason)


def test_dbt_assets_run_dbt_without_an_in_process_adapter():
    """The dbt assets keep the configured resource's fields but skip dagster-dbt's in-process
    adapter and `dbt --version` (orchestration/resources.py: DbtCliWithoutAdapter)."""
    from dagster_dbt import DbtCliResource
    from dbt.version import __version__ as dbt_version

    from orchestration.resources import DbtCliWithoutAdapter, without_dbt_adapter

    configured = DbtCliResource(
        project_dir=str(DBT_PROJECT_DIR), dbt_executable=DBT_EXECUTABLE, target="dev", global_config_flags=["--quiet"]
    )
    resource = without_dbt_adapter(configured)
    assert isinstance(resource, DbtCliWithoutAdapter)
    assert without_dbt_adapter(resource) is resource
    for field in DbtCliResource.model_fields:
        assert getattr(resource, field) == getattr(configured, field), field
    assert resource._initialize_dbt_core_adapter(["build"]) is None
    assert str(resource._cli_version) == dbt_version


# A small mall longer than the 90 days of Wi-Fi dwell retention (privacy/policy.yml), loaded
# (not built): its earliest dwell rows are past retention as of its own calendar.
LONG_DAYS = 100


@pytest.fixture(scope="module")
def long_mall(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("long_mall")
    generate_mall(root / "inbox", days=LONG_DAYS)
    steps.ingest(settings_for(root))
    return root


def _copy_of(mall: Path, root: Path):
    shutil.copytree(mall, root, symlinks=True)
    return settings_for(root)


def test_sensor_starts_no_run_for_files_the_ledger_already_loaded(tmp_path, long_mall):
    settings = _copy_of(long_mall, tmp_path / "mall")
    sensor = build_inbox_sensor(settings)
    with dg.build_sensor_context() as ctx:  # the first evaluation ever: no cursor
        first = sensor(ctx)
        cursor = ctx.cursor
    assert isinstance(first, dg.SkipReason) and "loaded already" in first.skip_message
    assert cursor  # the loaded inbox is remembered: the next evaluations skip at once

    # an export lands (an old modification time: complete, per the contract's settle rule)
    latest = sorted((settings.inbox / "sensors").glob("wifi_dwell_*.parquet"))[-1]
    next_day = datetime.strptime(latest.stem[-8:], "%Y%m%d") + timedelta(days=1)
    new = latest.with_name(f"wifi_dwell_{next_day:%Y%m%d}.parquet")
    shutil.copy2(latest, new)
    with dg.build_sensor_context(cursor=cursor) as ctx:
        request = sensor(ctx)
        cursor = ctx.cursor
    assert isinstance(request, dg.RunRequest) and request.tags["mallcrm/files"] == "1"

    # loaded by the CLI meanwhile, then touched: the inbox changed, the ledger holds it all
    steps.ingest(settings)
    stat = new.stat()
    os.utime(new, (stat.st_atime, stat.st_mtime - 60))
    with dg.build_sensor_context(cursor=cursor) as ctx:
        again = sensor(ctx)
    assert isinstance(again, dg.SkipReason) and "loaded already" in again.skip_message


def _report_expired(markdown: str, label: str) -> tuple[str, int]:
    """(the as-of day of the report's retention section, the expired count of `label`)."""
    heading = re.search(r"^## Retention status \(as of (\S+)\)$", markdown, re.MULTILINE)
    section = markdown[heading.end() :].split("\n## ")[0]
    row = next(line for line in section.splitlines() if line.startswith(f"| {label} |"))
    return heading.group(1), int(row.split("|")[7])


def test_retention_check_report_and_purge_count_as_of_one_day(tmp_path, long_mall):
    settings = _copy_of(long_mall, tmp_path / "mall")
    wifi = dg.AssetKey(["raw_sensors", "wifi_dwell"])
    (check,) = build_quality_definitions(settings, {wifi}).asset_checks
    con = connect(settings)
    try:
        as_of = as_of_date(con, settings)  # the day after the latest business day loaded
        by_today = expired_counts(con, load_policy(), date.today())["raw_sensors.wifi_dwell"]["expired"]
    finally:
        con.close()

    result = check()  # the Dagster asset check (Soda contract of raw_sensors.wifi_dwell)
    assert result.severity == dg.AssetCheckSeverity.WARN and "past retention" in result.description
    assert result.metadata["failed"].value == 0 and result.metadata["warned"].value == 1
    checked = result.metadata["failing_rows"].value
    report_day, reported = _report_expired(render(settings), "raw_sensors.wifi_dwell")
    assert report_day == str(as_of) and reported == checked > 0
    assert by_today != checked  # the wall clock's day would have counted otherwise

    purged = steps.purge(settings, rebuild=False)  # the privacy_daily op's call (no dbt models here)
    assert purged.as_of == as_of and purged.tables["raw_sensors.wifi_dwell"]["expired"] == checked
    assert check().passed
    assert _report_expired(render(settings), "raw_sensors.wifi_dwell") == (str(as_of), 0)
