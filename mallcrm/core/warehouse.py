"""Opening the DuckDB warehouse file from Python.

DuckDB shares one database instance per file within a process, and refuses a second
connection with a different configuration (e.g. read-only beside dbt's read-write one).
Every reader in this project goes through `connect()` so they all agree.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from mallcrm.core import lock
from mallcrm.core.settings import Settings


class WarehouseMissing(FileNotFoundError):
    """The warehouse file does not exist yet: nothing was loaded, so there is nothing to read."""

    def __init__(self, warehouse: Path):
        super().__init__(f"no warehouse at {warehouse}: run `mallcrm ingest` (or `make demo`) first")
        self.warehouse = warehouse


def require_warehouse(settings: Settings) -> None:
    """Refuse (WarehouseMissing) when the warehouse file does not exist: a step that reads
    it (a build, scoring, a publication) would otherwise start from a new, empty file."""
    if not settings.warehouse.exists():
        raise WarehouseMissing(settings.warehouse)


def connect(settings: Settings, path: Path | None = None) -> duckdb.DuckDBPyConnection:
    """Open the warehouse (or another DuckDB file at `path`) with DuckDB's memory limit
    and threads from the settings.

    A missing warehouse is created only by a writer holding the write lock (ingestion is
    the first); a reader gets WarehouseMissing instead of a new, empty file."""
    target = path or settings.warehouse
    if target == settings.warehouse and not target.exists() and not lock.holds_write_lock(settings):
        raise WarehouseMissing(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(target))
    # SET, not a connect-time config: the instance is shared with dbt's connections in-process.
    con.execute(f"set memory_limit = '{settings.duckdb_memory_limit}'")
    con.execute(f"set threads = {int(settings.duckdb_threads)}")
    return con


def relation_exists(con: duckdb.DuckDBPyConnection, relation: str) -> bool:
    """Does the table or view `schema.name` exist in the connection's current database?"""
    schema, name = relation.split(".")
    return bool(
        con.execute(
            "select count(*) from information_schema.tables "
            "where table_catalog = current_database() and table_schema = ? and table_name = ?",
            [schema, name],
        ).fetchall()[0][0]  # fetchall: duckdb 2 refuses other work while a result is unfinished
    )
