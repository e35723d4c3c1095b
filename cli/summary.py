"""What the warehouse holds: tables and row counts, for the demo and `mallcrm status`."""

from __future__ import annotations

from mallcrm.core.settings import Settings
from mallcrm.core.warehouse import connect

HIDDEN_PREFIXES = ("_dlt",)


def table_counts(settings: Settings) -> dict[str, dict[str, int]]:
    """{schema: {table: rows}} for every table and view, dlt's own tables left out."""
    if not settings.warehouse.exists():
        return {}
    con = connect(settings)
    try:
        tables = con.execute(
            """
            select table_schema, table_name from information_schema.tables
            where table_catalog = current_database() and table_schema not in ('information_schema', 'pg_catalog')
            order by 1, 2
            """
        ).fetchall()
        out: dict[str, dict[str, int]] = {}
        for schema, table in tables:
            if table.startswith(HIDDEN_PREFIXES) or schema.endswith("_staging"):
                continue
            rows = con.execute(f'select count(*) from "{schema}"."{table}"').fetchone()[0]
            out.setdefault(schema, {})[table] = rows
        return out
    finally:
        con.close()


def warehouse_summary(settings: Settings) -> str:
    counts = table_counts(settings)
    lines = [f"warehouse: {settings.warehouse}"]
    for schema, tables in counts.items():
        lines.append(f"  {schema}")
        for table, rows in tables.items():
            lines.append(f"    {table:<42} {rows:>12,}")
    return "\n".join(lines)
