"""Every setting in one place, each overridable from the environment.

Paths are resolved against the project root so that the CLI, dbt, Dagster and the
tests agree on where the warehouse and inbox are, whatever the working directory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
EXPORT_FORMATS_FILE = PROJECT_ROOT / "ingestion" / "export_formats.yml"


def _path(env: str, default: str) -> Path:
    value = Path(os.environ.get(env, default)).expanduser()
    return value if value.is_absolute() else PROJECT_ROOT / value


@dataclass(frozen=True)
class Settings:
    """Resolved settings; build one with `load_settings()` so overrides apply."""

    warehouse: Path
    inbox: Path
    dlt_dir: Path
    timezone: str
    # DuckDB's memory limit and worker threads, applied to dbt's connections (profile) and
    # to every connection opened through mallcrm.warehouse.connect().
    duckdb_memory_limit: str = "3GB"
    duckdb_threads: int = 2

    @property
    def warehouse_dir(self) -> Path:
        return self.warehouse.parent


def _timezone(name: str) -> str:
    """An IANA zone name, checked before it reaches SQL (ingestion and the dbt var use it)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"MALLCRM_TIMEZONE={name!r} is not an IANA time zone (e.g. Asia/Shanghai)") from None
    return name


def load_settings() -> Settings:
    """Read the settings now (tests change the environment between calls)."""
    warehouse = _path("MALLCRM_WAREHOUSE", "warehouse/mallcrm.duckdb")
    return Settings(
        warehouse=warehouse,
        inbox=_path("MALLCRM_INBOX", "data/inbox"),
        # dlt's working folder (state, load packages) lives beside the warehouse so that
        # a new warehouse path never inherits another warehouse's load state.
        dlt_dir=_path("MALLCRM_DLT_DIR", str(warehouse.parent / ".dlt")),
        timezone=_timezone(os.environ.get("MALLCRM_TIMEZONE", "Asia/Shanghai")),
        duckdb_memory_limit=os.environ.get("MALLCRM_DUCKDB_MEMORY_LIMIT", "3GB"),
        duckdb_threads=int(os.environ.get("MALLCRM_DUCKDB_THREADS", str(os.cpu_count() or 2))),
    )
