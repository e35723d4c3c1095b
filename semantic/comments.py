"""`COMMENT ON` statements carrying the dbt docs into a published copy.

DuckDB and PostgreSQL share the syntax; BI tools (Metabase, Superset, Tableau, DBeaver)
show these comments as table and column descriptions."""

from __future__ import annotations

from semantic.docs import TableDoc

DIALECTS = ("duckdb", "postgres")


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def comment_statements(
    docs: dict[str, TableDoc],
    tables: dict[str, list[str]],
    dialect: str,
    catalog: str | None = None,
) -> list[str]:
    """One statement per documented table and column of `tables` ("schema.table" ->
    columns present in the copy); `catalog` prefixes the names (an attached DuckDB file)."""
    if dialect not in DIALECTS:
        raise ValueError(f"unknown SQL dialect {dialect!r}; expected one of {', '.join(DIALECTS)}")
    statements = []
    for relation, columns in sorted(tables.items()):
        doc = docs.get(relation)
        if doc is None:
            continue
        schema, table = relation.split(".", 1)
        parts = ([catalog] if catalog else []) + [schema, table]
        name = ".".join(_ident(p) for p in parts)
        if doc.description:
            statements.append(f"comment on table {name} is {_literal(doc.description)}")
        for column in columns:
            if doc.columns.get(column):
                statements.append(f"comment on column {name}.{_ident(column)} is {_literal(doc.columns[column])}")
    return statements
