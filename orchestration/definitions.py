"""The Dagster entry point: `dagster dev -m orchestration.definitions`."""

from __future__ import annotations

import sys
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource
from dagster_dlt import DagsterDltResource

from mallcrm.settings import Settings, load_settings
from orchestration.automation import build_inbox_sensor, daily_schedule, refresh_job
from orchestration.ingestion import build_dlt_assets, inbox_specs
from orchestration.ml import build_ml_definitions
from orchestration.modeling import build_dbt_assets
from orchestration.privacy import build_privacy_definitions
from orchestration.publish import build_publish_assets
from orchestration.quality import build_quality_definitions

# The dbt of this virtual environment, whatever the PATH of the process running Dagster.
DBT_EXECUTABLE = str(Path(sys.executable).parent / "dbt")


def build_definitions(settings: Settings) -> dg.Definitions:
    dbt_assets_def, project = build_dbt_assets(settings)
    warehouse = dg.Definitions(
        assets=[
            *inbox_specs(),
            *build_dlt_assets(settings),
            dbt_assets_def,
            *build_publish_assets(settings, [k for k in dbt_assets_def.keys if k.path[0] == "marts"]),
        ],
        jobs=[refresh_job],
        schedules=[daily_schedule],
        sensors=[build_inbox_sensor(settings)],
        resources={
            "dlt": DagsterDltResource(),
            "dbt": DbtCliResource(project_dir=project, dbt_executable=DBT_EXECUTABLE),
        },
        # One process writes the DuckDB file at a time; in-process also avoids a Python
        # start-up per step.
        executor=dg.in_process_executor,
    )
    return dg.Definitions.merge(warehouse, build_ml_definitions(settings), build_privacy_definitions(settings),
                                build_quality_definitions(settings, set(warehouse.resolve_all_asset_keys())))


defs = build_definitions(load_settings())
