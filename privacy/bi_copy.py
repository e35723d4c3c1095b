"""A copy of the marts for BI tools that embed an older DuckDB.

BI tools ship their own DuckDB (Evidence and others open storage versions up to 1.4),
so they cannot open the warehouse file written by DuckDB 2. This writes the `marts`
schema, and nothing else, into a separate file in storage version v1.4.0, whole or not
at all: it is built beside the target and renamed into place.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from mallcrm.core.settings import Settings
from mallcrm.core.warehouse import connect
from privacy.audit import record

BI_STORAGE_VERSION = "v1.4.0"
BI_SCHEMAS = ("marts",)


@dataclass(frozen=True)
class BiCopy:
    path: Path
    tables: dict[str, int]  # "schema.table" -> rows


def bi_copy_path(settings: Settings) -> Path:
    return settings.warehouse_dir / "bi" / "mallcrm_bi.duckdb"


def publish_bi_copy(settings: Settings) -> BiCopy:
    target = bi_copy_path(settings)
    target.parent.mkdir(parents=True, exist_ok=True)
    building = target.with_suffix(".building")
    for leftover in (building, Path(f"{building}.wal")):
        leftover.unlink(missing_ok=True)
    con = connect(settings)
    tables: dict[str, int] = {}
    try:
        con.execute(f"attach '{building}' as bi (storage_version '{BI_STORAGE_VERSION}')")
        rows = con.execute(
            f"""
            select table_schema, table_name from information_schema.tables
            where table_catalog = current_database() and table_type = 'BASE TABLE'
              and table_schema in ({", ".join(f"'{s}'" for s in BI_SCHEMAS)})
            order by 1, 2
            """
        ).fetchall()
        for schema in BI_SCHEMAS:
            con.execute(f'create schema if not exists bi."{schema}"')
        for schema, table in rows:
            con.execute(f'create table bi."{schema}"."{table}" as select * from "{schema}"."{table}"')
            tables[f"{schema}.{table}"] = con.execute(f'select count(*) from bi."{schema}"."{table}"').fetchone()[0]
        con.execute("detach bi")
    finally:
        con.close()
    os.replace(building, target)

    record(settings, "publish_bi_copy", str(target.name), {"tables": tables})
    return BiCopy(target, tables)
