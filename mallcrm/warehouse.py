"""Opening the DuckDB warehouse file from Python.

DuckDB shares one database instance per file within a process, and refuses a second
connection with a different configuration (e.g. read-only beside dbt's read-write one).
Every reader in this project goes through `connect()` so they all agree.
"""

from __future__ import annotations

from pathlib import Path

import duckdb


def connect(path: Path) -> duckdb.DuckDBPyConnection:
    path.parent.mkdir(parents=True, exist_ok=True)
    return duckdb.connect(str(path))
