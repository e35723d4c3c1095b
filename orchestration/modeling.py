"""dbt assets: every model, seed and test of dbt_project/, built with `dbt build`.

dbt sources are keyed [source_name, table] = [raw_<system>, <entity>] by dagster-dbt's
default translator, which is exactly the key of the dlt asset that loads them.
"""


from collections.abc import Iterable
from pathlib import Path

import dagster as dg
from dagster import AssetExecutionContext
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, DbtProject, dbt_assets

from mallcrm.dbt_runner import export_dbt_environment, run_dbt
from mallcrm.settings import DBT_PROJECT_DIR, Settings


def dbt_project(settings: Settings) -> DbtProject:
    """The dbt project, with its manifest parsed if missing (no manual step anywhere)."""
    export_dbt_environment(settings)
    project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
    if _manifest_is_stale(project.manifest_path):
        run_dbt(["parse"], settings)
    return project


def _manifest_is_stale(manifest: Path) -> bool:
    """Missing, or older than any file dbt parses: the asset graph must match the project."""
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    sources = [DBT_PROJECT_DIR / "dbt_project.yml", DBT_PROJECT_DIR / "profiles.yml"]
    for folder in ("models", "macros", "tests", "seeds", "snapshots", "analyses"):
        sources.extend(p for p in (DBT_PROJECT_DIR / folder).rglob("*") if p.is_file())
    return any(p.exists() and p.stat().st_mtime > built for p in sources)


def dagster_target_path(project: DbtProject) -> Path:
    """One fixed artifacts folder for Dagster's dbt runs, so each run finds the previous
    run's partial_parse.msgpack.

    dagster-dbt gives every run a new folder and seeds it with target/'s msgpack, which
    was written by whichever command ran last. dbt keys partial parsing on the profile,
    which holds the warehouse path: after a test run, a bench or a build of another
    warehouse it is "Unable to do partial parsing because profile has changed", a full
    parse of the project in every run (about 15 s on the demo mall). Runs that build
    dbt take the `duckdb_warehouse` pool one at a time (dagster.yaml), so they never
    share the folder at once.
    """
    return Path(project.project_dir) / "target" / "dagster"


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
        dagster_dbt_translator=MallDbtTranslator(
            settings=DagsterDbtTranslatorSettings(enable_asset_checks=True)
        ),
        pool="duckdb_warehouse",
    )
    def mallcrm_dbt_assets(context: AssetExecutionContext, dbt: DbtCliResource) -> Iterable:
        export_dbt_environment(settings)
        yield from dbt.cli(["build"], context=context, target_path=dagster_target_path(project)).stream()

    return mallcrm_dbt_assets, project
