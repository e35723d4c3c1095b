"""Run dbt in-process against the configured warehouse.

The dbt profile reads the warehouse path from MALLCRM_WAREHOUSE, so this module exports
the resolved absolute path before every invocation: the CLI, Dagster and the tests then
build exactly the same file.
"""

from __future__ import annotations

import os
from pathlib import Path

from mallcrm.settings import DBT_PROJECT_DIR, Settings, load_settings

QUIET_ENV = {"DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DO_NOT_TRACK": "1"}


def dbt_environment(settings: Settings) -> dict[str, str]:
    env = dict(QUIET_ENV)
    env["MALLCRM_WAREHOUSE"] = str(settings.warehouse)
    env["MALLCRM_TIMEZONE"] = settings.timezone
    return env


def export_dbt_environment(settings: Settings) -> None:
    for key, value in dbt_environment(settings).items():
        os.environ[key] = value


def dbt_args(command: list[str], target_path: Path | None = None) -> list[str]:
    args = [*command, "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)]
    if target_path is not None:
        args += ["--target-path", str(target_path)]
    return args


def run_dbt(command: list[str], settings: Settings | None = None) -> bool:
    """Invoke dbt (e.g. ["build"]); returns True when every node succeeded."""
    from dbt.cli.main import dbtRunner

    settings = settings or load_settings()
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    export_dbt_environment(settings)
    result = dbtRunner().invoke(dbt_args(command))
    if result.exception is not None:
        raise RuntimeError(f"dbt {' '.join(command)} failed: {result.exception}")
    return bool(result.success)
