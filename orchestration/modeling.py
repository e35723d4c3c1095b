"""dbt assets: every model, seed and test of dbt_project/, built with `dbt build`.

dbt sources are keyed [source_name, table] = [raw_<system>, <entity>] by dagster-dbt's
default translator, which is exactly the key of the ingestion asset that loads them.
dagster-dbt runs dbt as a child process so that each node becomes an asset event; the
settings reach it through the environment (mallcrm.core.settings.export_environment)
and the run holds the warehouse's write lock (orchestration/resources.py).
"""

from collections.abc import Iterable
from pathlib import Path

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, DbtProject, dbt_assets

from mallcrm.core.dbt import TARGET_DIR, ensure_manifest
from mallcrm.core.settings import DBT_PROJECT_DIR, Settings, export_environment
from orchestration.resources import WRITER, without_dbt_adapter
from spark.views import publish_spark_views


def dbt_project(settings: Settings) -> DbtProject:
    """The dbt project, with its manifest parsed if missing or stale (no manual step anywhere)."""
    ensure_manifest(settings)
    return DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


# One fixed artifacts folder for Dagster's dbt runs, so each run finds the previous run's
# partial_parse.msgpack. dagster-dbt would give every run a new folder seeded with
# target/'s msgpack, which dbt keys on the profile (the warehouse path): after a test, a
# bench or another warehouse's build, every run would parse the whole project again
# (about 15 s on the demo mall). Runs take the write lock one at a time, so they never
# share the folder at once.
DAGSTER_TARGET_PATH: Path = TARGET_DIR / "dagster"


class MallDbtTranslator(DagsterDbtTranslator):
    def get_group_name(self, dbt_resource_props) -> str | None:
        # Group by layer: staging, intermediate, marts (the folder under models/).
        fqn = dbt_resource_props.get("fqn", [])
        layer = fqn[1] if len(fqn) > 2 else "dbt"
        # The feature models are warehouse models like any other; group "ml" is the
        # Python training and scoring assets (orchestration/ml.py).
        return "ml_features" if layer == "ml" else layer


def build_dbt_assets(settings: Settings) -> tuple[dg.AssetsDefinition, DbtProject]:
    project = dbt_project(settings)

    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        dagster_dbt_translator=MallDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True)),
        pool="duckdb_warehouse",
        required_resource_keys={WRITER, "dbt"},
    )
    def mallcrm_dbt_assets(context: dg.AssetExecutionContext) -> Iterable:
        export_environment(settings)
        # The resource as configured (definitions.py, the bench), minus the in-process dbt
        # adapter and `dbt --version` that dagster-dbt prepares for metadata these assets
        # do not fetch (orchestration/resources.py: DbtCliWithoutAdapter).
        dbt: DbtCliResource = without_dbt_adapter(context.resources.dbt)
        yield from dbt.cli(["build"], context=context, target_path=DAGSTER_TARGET_PATH).stream()
        if settings.engine == "spark":
            # As pipeline.steps.build does: the steps after the build (ML, checks,
            # publications) read Spark's tables through views in the DuckDB file. The
            # run already holds the write lock, so not through the step.
            publish_spark_views(settings)

    return mallcrm_dbt_assets, project
