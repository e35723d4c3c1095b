"""Run dbt in-process against the configured warehouse.

The dbt profile reads the warehouse path from MALLCRM_WAREHOUSE, so this module exports
the resolved absolute path before every invocation: the CLI, Dagster and the tests then
build exactly the same file.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

from mallcrm.settings import DBT_PROJECT_DIR, Settings, load_settings

QUIET_ENV = {"DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DO_NOT_TRACK": "1"}


def dbt_environment(settings: Settings) -> dict[str, str]:
    env = dict(QUIET_ENV)
    # dbt.log at info (node starts and results, errors with their SQL), not dbt's default
    # debug, which logs every statement: 0.2-5.7 s less of a 34-41 s demo build in three
    # paired runs (docs/performance.md). DBT_LOG_LEVEL_FILE=debug brings the statements back.
    env["DBT_LOG_LEVEL_FILE"] = os.environ.get("DBT_LOG_LEVEL_FILE", "info")
    env["MALLCRM_WAREHOUSE"] = str(settings.warehouse)
    env["MALLCRM_TIMEZONE"] = settings.timezone
    env["MALLCRM_DUCKDB_MEMORY_LIMIT"] = settings.duckdb_memory_limit
    env["MALLCRM_DUCKDB_THREADS"] = str(settings.duckdb_threads)
    return env


def export_dbt_environment(settings: Settings) -> None:
    for key, value in dbt_environment(settings).items():
        os.environ[key] = value


def dbt_args(command: list[str], target_path: Path | None = None) -> list[str]:
    args = [*command, "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)]
    if target_path is not None:
        args += ["--target-path", str(target_path)]
    return args


LAST_STATUS_COUNTS: Counter = Counter()


def run_dbt(command: list[str], settings: Settings | None = None, quiet: bool = False) -> bool:
    """Invoke dbt (e.g. ["build"]); returns True when every node succeeded.

    With `quiet`, dbt prints only errors and warnings; the status counts of the last run
    are kept in LAST_STATUS_COUNTS (e.g. {"pass": 520, "warn": 1}).
    """
    from dbt.cli.main import dbtRunner

    settings = settings or load_settings()
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    export_dbt_environment(settings)
    args = dbt_args(command) + (["--quiet"] if quiet else [])
    result = dbtRunner().invoke(args)
    if result.exception is not None:
        raise RuntimeError(f"dbt {' '.join(command)} failed: {result.exception}")
    LAST_STATUS_COUNTS.clear()
    for node in getattr(result.result, "results", None) or []:
        LAST_STATUS_COUNTS[str(getattr(node.status, "value", node.status))] += 1
    return bool(result.success)
