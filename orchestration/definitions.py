"""The Dagster entry point: `dg dev -m orchestration.definitions` (what `mallcrm dev` runs).

Wiring only: every asset and op that writes calls a pipeline step of pipeline.steps (the
same functions as the CLI and the bench), except the dbt assets, which dagster-dbt runs
as `dbt build` in a child process with the same settings so that each node becomes an
asset event. Every run holds the warehouse's write lock through the `warehouse_writer`
resource.
"""

from __future__ import annotations

import sys
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource

from mallcrm.core.settings import Settings, export_environment, load_settings
from orchestration.activation import build_activation_definitions
from orchestration.automation import build_daily_schedule, build_inbox_sensor, refresh_job
from orchestration.ingestion import build_ingestion_assets
from orchestration.ml import build_ml_definitions
from orchestration.modeling import build_dbt_assets
from orchestration.privacy import build_privacy_definitions
from orchestration.publish import build_publish_assets
from orchestration.quality import build_quality_definitions
from orchestration.resources import WRITER, warehouse_writer
from orchestration.serving import build_serving_assets

# The dbt of this virtual environment, whatever the PATH of the process running Dagster.
DBT_EXECUTABLE = str(Path(sys.executable).parent / "dbt")


def build_definitions(settings: Settings) -> dg.Definitions:
    export_environment(settings)  # dbt (a child process) and dlt read the settings from it
    dbt_assets_def, project = build_dbt_assets(settings)
    writer = warehouse_writer(settings)  # one object: merged Definitions share it
    mart_keys = [k for k in dbt_assets_def.keys if k.path[0] == "marts"]
    warehouse = dg.Definitions(
        assets=[
            *build_ingestion_assets(settings),
            dbt_assets_def,
            *build_publish_assets(settings, mart_keys),
            *build_serving_assets(settings, mart_keys),
        ],
        jobs=[refresh_job],
        schedules=[build_daily_schedule(settings)],
        sensors=[build_inbox_sensor(settings)],
        resources={
            "dbt": DbtCliResource(project_dir=project, dbt_executable=DBT_EXECUTABLE),
            WRITER: writer,
        },
        # One process writes the DuckDB file at a time; in-process also avoids a Python
        # start-up per step, and the write lock is held once for the whole run.
        executor=dg.in_process_executor,
    )
    return dg.Definitions.merge(
        warehouse,
        build_ml_definitions(settings, writer),
        build_privacy_definitions(settings, writer),
        build_activation_definitions(settings, writer),
        build_quality_definitions(settings, set(warehouse.resolve_all_asset_keys())),
    )


defs = build_definitions(load_settings())
