"""Publishing assets: copies of the marts for BI tools and for each role in the policy
(pipeline.steps.publish_bi / publish_roles, as `mallcrm publish-bi` / `publish-roles`)."""

import dagster as dg

from mallcrm.core.settings import Settings
from orchestration.resources import WRITER
from pipeline import steps
from privacy.bi_copy import BI_STORAGE_VERSION

PUBLISH_GROUP = "publish"
ROLE_FILES_KEY = dg.AssetKey(["publish", "role_files"])


def build_publish_assets(settings: Settings, mart_keys: list[dg.AssetKey]) -> list[dg.AssetsDefinition]:
    @dg.asset(
        key=dg.AssetKey(["publish", "bi_copy"]),
        deps=mart_keys,
        group_name=PUBLISH_GROUP,
        kinds={"duckdb"},
        pool="duckdb_warehouse",
        required_resource_keys={WRITER},
        description=(
            f"The management_bi role's marts in a DuckDB {BI_STORAGE_VERSION}-storage file "
            "for BI tools and the dashboards (mallcrm publish-bi)."
        ),
    )
    def bi_copy(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        copy = steps.publish_bi(settings)
        return dg.MaterializeResult(metadata={"path": str(copy.path), "tables": len(copy.tables)})

    @dg.asset(
        key=ROLE_FILES_KEY,
        deps=mart_keys,
        group_name=PUBLISH_GROUP,
        kinds={"duckdb"},
        pool="duckdb_warehouse",
        required_resource_keys={WRITER},
        description="One DuckDB file per role holding only what privacy/policy.yml lets the role see.",
    )
    def role_files(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        files = steps.publish_roles(settings)
        return dg.MaterializeResult(metadata={role: dg.MetadataValue.path(str(f.path)) for role, f in files.items()})

    return [bi_copy, role_files]
