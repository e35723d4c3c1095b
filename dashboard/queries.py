"""The dashboards' queries: the SQL files of the Evidence project, run read-only.

`reports/sources/mallcrm/*.sql` is the single source of truth for every dashboard query:
Evidence runs the files as its DuckDB source queries, and this module runs the same files
for `mallcrm dashboard` and the tests. The file's header is the one place that says
which filters the query honours (and on which column) and why it ignores the others;
every filter kind is one or the other, so a chart can always say when a filter the user
chose does not apply to it:

    -- dashboard-filters: date=snapshot_month, segment=rfm_segment
    -- dashboard-ignores store: RFM scores a member over every store

Filters wrap the query as a subquery with bound parameters, so no user input is ever
formatted into SQL and the files stay valid for Evidence unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cached_property
from pathlib import Path

import duckdb
import pandas as pd

from mallcrm.core.settings import PROJECT_ROOT
from semantic.metrics import DEFINITIONS as METRIC_DEFINITIONS
from semantic.metrics import SCHEMA as METRICS_SCHEMA
from semantic.metrics import aggregate_sql

QUERY_DIR = PROJECT_ROOT / "reports" / "sources" / "mallcrm"
FILTER_KINDS = ("date", "store", "segment")
FILTER_NAMES = {"date": ("date range", "日期"), "store": ("store", "门店"), "segment": ("segment", "客群")}
_HEADER = re.compile(r"^--\s*dashboard-filters:\s*(?P<spec>.*)$", re.MULTILINE)
_IGNORES = re.compile(r"^--\s*dashboard-ignores\s+(?P<kind>[a-z]+):\s*(?P<reason>.*\S)\s*$", re.MULTILINE)
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


@dataclass(frozen=True)
class Query:
    name: str
    sql: str
    filters: dict[str, str] = field(default_factory=dict)  # filter kind -> column
    ignored: dict[str, str] = field(default_factory=dict)  # filter kind -> why it does not apply


@dataclass(frozen=True)
class Filters:
    """What the user chose; None is "everything" (a date range equal to the data's is None)."""

    start: date | None = None
    end: date | None = None
    store: str | None = None
    segment: str | None = None

    def active(self) -> list[str]:
        """The filter kinds the user narrowed."""
        chosen = {"date": self.start or self.end, "store": self.store, "segment": self.segment}
        return [kind for kind in FILTER_KINDS if chosen[kind]]

    def period(self, bounds: tuple[date | None, date | None]) -> tuple[date, date] | None:
        """The selected days, open ends closed by the data's first and last day."""
        start, end = self.start or bounds[0], self.end or bounds[1]
        return (start, end) if start and end else None

    def previous(self, bounds: tuple[date | None, date | None]) -> Filters | None:
        """The same filters over the period of equal length just before the selected one,
        or None when that period lies before the data."""
        period = self.period(bounds)
        if period is None or bounds[0] is None or period[0] <= bounds[0]:
            return None
        days = (period[1] - period[0]).days + 1
        return Filters(period[0] - timedelta(days=days), period[0] - timedelta(days=1), self.store, self.segment)


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


def parse_ignores(sql: str, name: str, filters: dict[str, str]) -> dict[str, str]:
    """The `dashboard-ignores <kind>: <reason>` lines as {kind: reason}; every filter kind
    must be honoured or ignored with a reason, never both."""
    ignored = {}
    for match in _IGNORES.finditer(sql):
        kind = match.group("kind")
        if kind not in FILTER_KINDS:
            raise ValueError(f"{name}.sql: dashboard-ignores names unknown filter {kind!r}")
        if kind in filters:
            raise ValueError(f"{name}.sql: filter {kind!r} is both honoured and ignored")
        ignored[kind] = match.group("reason")
    missing = [kind for kind in FILTER_KINDS if kind not in filters and kind not in ignored]
    if missing:
        raise ValueError(
            f"{name}.sql: filter {missing[0]!r} is neither honoured (dashboard-filters) nor ignored with a reason"
            f" ('-- dashboard-ignores {missing[0]}: why')"
        )
    return ignored


def load_queries(directory: Path = QUERY_DIR) -> dict[str, Query]:
    queries = {}
    for path in sorted(directory.glob("*.sql")):
        sql = path.read_text(encoding="utf-8")
        filters = parse_filters(sql, path.stem)
        queries[path.stem] = Query(path.stem, sql, filters, parse_ignores(sql, path.stem, filters))
    return queries


def ignored_filters(queries: list[Query], filters: Filters) -> dict[str, str]:
    """The active filters some of `queries` ignore, as {kind: reason} (the first reason)."""
    notes: dict[str, str] = {}
    for kind in filters.active():
        for query in queries:
            if kind in query.ignored:
                notes.setdefault(kind, query.ignored[kind])
    return notes


def _where(query: Query, filters: Filters) -> tuple[list[str], list]:
    """The conditions of the filters `query` honours, and the parameters to bind."""
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
    return clauses, params


def filtered_sql(query: Query, filters: Filters) -> tuple[str, list]:
    """The query wrapped with the filters it declares, and the parameters to bind."""
    clauses, params = _where(query, filters)
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

    def rows(self, sql: str, params: list | None = None) -> list[tuple]:
        """Rows of a fixed query of the app's own (filter options, bounds, metrics); user
        input only ever in `params`."""
        con = self._connect()
        try:
            return con.execute(sql, params or []).fetchall()
        finally:
            con.close()

    @cached_property
    def bounds(self) -> tuple[date | None, date | None]:
        """The first and last business day of the sales (the date picker's range)."""
        try:
            rows = self.rows("select min(business_date), max(business_date) from marts.fct_transactions")
        except duckdb.CatalogException:  # a role file without the fact table: no bounds
            return None, None
        return rows[0]

    @cached_property
    def _metric_dimensions(self) -> dict[str, list[str]]:
        rows = self.rows(f"select metric_name, dimensions from {METRICS_SCHEMA}.{METRIC_DEFINITIONS}")
        return {name: [d.strip() for d in dimensions.split(",")] for name, dimensions in rows}

    def metric_source(self, name: str) -> Query:
        """The view `metrics.<name>` as a filter source: the date range always, the store
        when the view has a store_id, never the segment (a metric is not split by it)."""
        try:
            dimensions = self._metric_dimensions[name]
        except KeyError:
            raise KeyError(f"{self.path.name}: no metric {name} in {METRICS_SCHEMA}.{METRIC_DEFINITIONS}") from None
        filters = {"date": "metric_date"}
        ignored = {"segment": f"the metric {name} is not split by RFM segment"}
        if "store_id" in dimensions:
            filters["store"] = "store_id"
        else:
            ignored["store"] = f"the metric {name} has no store"
        return Query(f"{METRICS_SCHEMA}.{name}", "", filters, ignored)

    def metric(self, name: str, filters: Filters | None = None) -> float | None:
        """A dbt metric over the filtered days (and store), read from its view through the
        semantic layer's rollup: the dashboard never restates a metric's formula."""
        clauses, params = _where(self.metric_source(name), filters or Filters())
        con = self._connect()
        try:
            sql = aggregate_sql(con, name, "where " + " and ".join(clauses) if clauses else "")
            value = con.execute(sql, params).fetchone()[0]
        finally:
            con.close()
        return None if value is None else float(value)

    def options(self, sql: str) -> list:
        return [row[0] for row in self.rows(sql) if row[0] is not None]
