"""The Dagster Definitions: loadable, connected lineage, and a real run equal to the CLI's."""

from __future__ import annotations

import shutil
import time

import dagster as dg
import pytest

from cli.summary import table_counts
from mallcrm.core.contract import load_contract
from mallcrm.core.settings import DBT_PROJECT_DIR
from orchestration.definitions import DBT_EXECUTABLE, build_definitions
from tests.conftest import mall_environment

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
    assert via_dagster == table_counts(cli_settings)
    # dbt wrote to the one folder the next run partial-parses from (dagster_target_path)
    artifacts = DBT_PROJECT_DIR / "target" / "dagster"
    assert (artifacts / "run_results.json").stat().st_mtime >= started
    assert (artifacts / "partial_parse.msgpack").stat().st_mtime >= started


def test_sensor_requests_a_run_only_for_new_files(tmp_path, small_mall_exports):
    with mall_environment(tmp_path) as settings:
        definitions = build_definitions(settings)
        sensor = definitions.get_sensor_def("new_exports_in_inbox")
        with dg.build_sensor_context() as ctx:
            assert isinstance(sensor(ctx), dg.SkipReason)  # empty inbox
        shutil.copytree(small_mall_exports[0], settings.inbox)
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
