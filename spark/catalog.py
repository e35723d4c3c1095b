"""The Spark side of the lake: raw tables registered in the metastore, and a connection.

Ingestion publishes the raw tables as Parquet (ingestion/lake.py); this module makes each
one a table of the cluster's metastore (`raw_pos.transactions` over
`<lake>/raw_pos/transactions`), so dbt's sources resolve on Spark as they do on DuckDB.
A table whose columns changed is created again (Spark fixes an external table's schema
when it is created); one that only received files is refreshed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from mallcrm.core.settings import Settings


@contextmanager
def thrift_cursor(settings: Settings) -> Iterator:
    """A cursor on the cluster's Thrift server (the one dbt uses)."""
    from pyhive import hive

    conn = hive.connect(host=settings.spark_host, port=settings.spark_port, username="mallcrm", auth="NONE")
    try:
        cursor = conn.cursor()
        yield cursor
        cursor.close()
    finally:
        conn.close()


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _as_uri(location: str) -> str:
    return location if "://" in location else "file:" + location


def _locations(cur, dataset: str) -> dict[str, str]:
    """`dataset.table` -> Location of every table of `dataset`, in one statement."""
    cur.execute(f"show table extended in {_quote(dataset)} like '*'")
    out = {}
    for row in cur.fetchall():
        table, info = row[1], row[-1]
        for line in info.splitlines():
            if line.startswith("Location:"):
                out[f"{dataset}.{table}"] = line.split(":", 1)[1].strip()
    return out


def register_raw_tables(settings: Settings, locations: dict[str, str], changed: set[str]) -> list[str]:
    """Make each `dataset.table` of `locations` a metastore table over its lake folder;
    tables in `changed` (new loads, maybe new columns) are created again. Returns the
    tables created. Spark reads the schema from the Parquet files themselves."""
    touched = []
    with thrift_cursor(settings) as cur:
        datasets = sorted({table.split(".")[0] for table in locations})
        located: dict[str, str] = {}  # table -> where the metastore reads it from
        for dataset in datasets:
            cur.execute(f"create database if not exists {_quote(dataset)}")
            located |= _locations(cur, dataset)
        for table, location in sorted(locations.items()):
            dataset, name = table.split(".")
            qualified = f"{_quote(dataset)}.{_quote(name)}"
            # created again when its columns may have changed, or when it reads another
            # lake (a warehouse restored from a copy, the bench's work directories)
            if table in changed or located.get(table) != _as_uri(location):
                cur.execute(f"drop table if exists {qualified}")
                cur.execute(f"create table {qualified} using parquet location '{location}'")
                touched.append(table)
    return touched
