"""The dashboards' queries: the SQL files of the Evidence project, run read-only.

`reports/sources/mallcrm/*.sql` is the single source of truth for every dashboard query:
Evidence runs the files as its DuckDB source queries, and this module runs the same files
for `mallcrm dashboard` and the tests. A header comment declares which columns the
dashboard's filters apply to:

    -- dashboard-filters: date=snapshot_month, store=store_id, segment=rfm_segment

Filters wrap the query as a subquery with bound parameters, so no user input is ever
formatted into SQL and the files stay valid for Evidence unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd

from mallcrm.core.settings import PROJECT_ROOT

QUERY_DIR = PROJECT_ROOT / "reports" / "sources" / "mallcrm"
FILTER_KINDS = ("date", "store", "segment")
_HEADER = re.compile(r"^--\s*dashboard-filters:\s*(?P<spec>.*)$", re.MULTILINE)
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


@dataclass(frozen=True)
class Query:
    name: str
    sql: str
    filters: dict[str, str] = field(default_factory=dict)  # filter kind -> column


@dataclass(frozen=True)
class Filters:
    start: date | None = None
    end: date | None = None
    store: str | None = None
    segment: str | None = None


def parse_filters(sql: str, name: str) -> dict[str, str]:
    """The `dashboard-filters` header of a query file as {kind: column}."""
    match = _HEADER.search(sql)
    if match is None:
        raise ValueError(f"{name}.sql: missing '-- dashboard-filters:' header (use 'none' when it has none)")
    spec = match.group("spec").strip()
    if spec == "none":
        return {}
    filters = {}
    for part in spec.split(","):
        kind, _, column = part.strip().partition("=")
        if kind not in FILTER_KINDS or not _IDENTIFIER.match(column):
            raise ValueError(f"{name}.sql: bad dashboard filter {part.strip()!r} (kinds: {', '.join(FILTER_KINDS)})")
        filters[kind] = column
    return filters


def load_queries(directory: Path = QUERY_DIR) -> dict[str, Query]:
    queries = {}
    for path in sorted(directory.glob("*.sql")):
        sql = path.read_text(encoding="utf-8")
        queries[path.stem] = Query(path.stem, sql, parse_filters(sql, path.stem))
    return queries


def filtered_sql(query: Query, filters: Filters) -> tuple[str, list]:
    """The query wrapped with the filters it declares, and the parameters to bind."""
    clauses, params = [], []
    column = query.filters.get("date")
    if column and filters.start is not None:
        clauses.append(f"{column} >= ?")
        params.append(filters.start)
    if column and filters.end is not None:
        clauses.append(f"{column} <= ?")
        params.append(filters.end)
    for kind in ("store", "segment"):
        column, value = query.filters.get(kind), getattr(filters, kind)
        if column and value:
            clauses.append(f"{column} = ?")
            params.append(value)
    body = query.sql.strip().rstrip(";")
    if not clauses:
        return body, params
    return f"select * from (\n{body}\n) as dashboard_query where " + " and ".join(clauses), params


class Warehouse:
    """A read-only view of a BI copy or role file; one short connection per query."""

    def __init__(self, path: Path, queries: dict[str, Query] | None = None):
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such DuckDB file (run `make demo` or `mallcrm publish-roles` first)")
        self.path = path
        self.queries = queries or load_queries()

    def _connect(self) -> duckdb.DuckDBPyConnection:
        return duckdb.connect(str(self.path), read_only=True)

    def run(self, name: str, filters: Filters | None = None) -> pd.DataFrame:
        sql, params = filtered_sql(self.queries[name], filters or Filters())
        con = self._connect()
        try:
            return con.execute(sql, params).df()
        finally:
            con.close()

    def rows(self, sql: str) -> list[tuple]:
        """Rows of a fixed query of the app's own (filter options, bounds; no user input)."""
        con = self._connect()
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()

    def options(self, sql: str) -> list:
        return [row[0] for row in self.rows(sql) if row[0] is not None]
