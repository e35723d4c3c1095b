"""The management_bi role's file, for BI tools that embed an older DuckDB.

BI tools ship their own DuckDB (Evidence and others open storage versions up to 1.4),
so they cannot open the warehouse file written by DuckDB 2. This writes the management_bi
role's output (privacy/publish.py: only the `marts` schema, only the columns and rows
privacy/policy.yml lets management_bi see: no member ids, names, contacts or minors)
into a separate file in storage version v1.4.0, whole or not at all: it is built beside
the target and renamed into place, with the dbt docs as comments and the metric views
(semantic/). It is what the dashboards and the Evidence project read; no role-free copy
of the marts is written anywhere.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from mallcrm.core.settings import Settings
from mallcrm.core.warehouse import connect
from privacy.audit import record
from privacy.policy import load_policy
from privacy.publish import write_role_file
from semantic.layer import load_semantic_layer

BI_STORAGE_VERSION = "v1.4.0"
BI_SCHEMAS = ("marts",)
BI_ROLE = "management_bi"


@dataclass(frozen=True)
class BiCopy:
    path: Path
    tables: dict[str, int]  # "schema.table" -> rows


def bi_copy_path(settings: Settings) -> Path:
    return settings.warehouse_dir / "bi" / "mallcrm_bi.duckdb"


def publish_bi_copy(settings: Settings) -> BiCopy:
    """Write the management_bi role's marts into warehouse/bi/mallcrm_bi.duckdb (DuckDB 1.4 storage)."""
    policy = load_policy()
    if BI_ROLE not in (policy.get("roles") or {}):
        raise ValueError(f"privacy/policy.yml declares no role {BI_ROLE}: the BI copy has no scope to publish")
    target = bi_copy_path(settings)
    target.parent.mkdir(parents=True, exist_ok=True)
    building = target.with_suffix(".building")
    for leftover in (building, Path(f"{building}.wal")):
        leftover.unlink(missing_ok=True)
    semantic = load_semantic_layer(settings)
    con = connect(settings)
    try:
        tables = write_role_file(con, policy, BI_ROLE, building, storage_version=BI_STORAGE_VERSION, semantic=semantic)
    finally:
        con.close()
    os.replace(building, target)

    record(settings, "publish_bi_copy", str(target.name), {"role": BI_ROLE, "tables": tables})
    return BiCopy(target, tables)
