"""What the warehouse holds: the demo's short summary per layer, and the full listing of
tables and row counts behind `mallcrm status`."""

from __future__ import annotations

from mallcrm.core.settings import Settings
from mallcrm.core.warehouse import connect

HIDDEN_PREFIXES = ("_dlt",)
# The layers in the order data flows through them; every raw_<system> schema is "raw".
LAYER_ORDER = ("raw", "staging", "masked", "intermediate", "marts", "ml_features", "ml_scores", "audiences")


def table_counts(settings: Settings) -> dict[str, dict[str, int]]:
    """{schema: {table: rows}} for every table and view, dlt's own tables left out
    (WarehouseMissing when nothing was loaded yet)."""
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


def layer_of(schema: str) -> str:
    return "raw" if schema.startswith("raw_") else schema


def layer_totals(counts: dict[str, dict[str, int]]) -> dict[str, tuple[int, int]]:
    """{layer: (tables, rows)} in flow order, unknown schemas last."""
    totals: dict[str, tuple[int, int]] = {}
    for schema, tables in counts.items():
        n, rows = totals.get(layer_of(schema), (0, 0))
        totals[layer_of(schema)] = (n + len(tables), rows + sum(tables.values()))
    rank = {layer: i for i, layer in enumerate(LAYER_ORDER)}
    return dict(sorted(totals.items(), key=lambda item: (rank.get(item[0], len(rank)), item[0])))


def layer_summary(settings: Settings) -> str:
    """A dozen lines a newcomer reads after `make demo`: tables and rows per layer."""
    lines = [f"warehouse {settings.warehouse}:"]
    for layer, (tables, rows) in layer_totals(table_counts(settings)).items():
        lines.append(f"  {layer:<13} {tables:>4} tables {rows:>12,} rows")
    return "\n".join(lines)


def warehouse_listing(settings: Settings) -> str:
    """Every table with its row count, per schema (`mallcrm status`)."""
    lines = [f"warehouse: {settings.warehouse}"]
    for schema, tables in table_counts(settings).items():
        lines.append(f"  {schema}")
        for table, rows in tables.items():
            lines.append(f"    {table:<42} {rows:>12,}")
    return "\n".join(lines)
