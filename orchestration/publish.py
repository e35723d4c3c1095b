"""Publishing assets: copies of the marts for BI tools and for each role in the policy."""

import dagster as dg
from dagster import AssetExecutionContext

from mallcrm.bi_copy import BI_STORAGE_VERSION, publish_bi_copy
from mallcrm.settings import Settings
from privacy.publish import publish_role_files

PUBLISH_GROUP = "publish"


def build_publish_assets(settings: Settings, mart_keys: list[dg.AssetKey]) -> list[dg.AssetsDefinition]:
    @dg.asset(
        key=dg.AssetKey(["publish", "bi_copy"]),
        deps=mart_keys,
        group_name=PUBLISH_GROUP,
        kinds={"duckdb"},
        pool="duckdb_warehouse",
        description=f"The marts in a DuckDB {BI_STORAGE_VERSION}-storage file for BI tools (mallcrm publish-bi).",
    )
    def bi_copy(context: AssetExecutionContext) -> dg.MaterializeResult:
        copy = publish_bi_copy(settings)
        return dg.MaterializeResult(metadata={"path": str(copy.path), "tables": len(copy.tables)})

    @dg.asset(
        key=dg.AssetKey(["publish", "role_files"]),
        deps=mart_keys,
        group_name=PUBLISH_GROUP,
        kinds={"duckdb"},
        pool="duckdb_warehouse",
        description="One DuckDB file per role holding only what privacy/policy.yml lets the role see.",
    )
    def role_files(context: AssetExecutionContext) -> dg.MaterializeResult:
        files = publish_role_files(settings)
        return dg.MaterializeResult(
            metadata={role: dg.MetadataValue.path(str(f.path)) for role, f in files.items()}
        )

    return [bi_copy, role_files]
