"""Run dbt in-process against the configured warehouse, and read its manifest.

dbt's profile (`dbt_project/profiles.yml`) and the privacy plugin read the warehouse path,
the time zone and the key from the environment, so every invocation first exports the
settings (mallcrm.core.settings.export_environment): the CLI, Dagster, the bench and the
tests then build exactly the same file.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mallcrm.core.settings import DBT_PROJECT_DIR, Settings, export_environment

TARGET_DIR = DBT_PROJECT_DIR / "target"
MANIFEST_PATH = TARGET_DIR / "manifest.json"
# What dbt parses: a manifest older than any of these is stale.
PARSED_FOLDERS = ("models", "macros", "tests", "seeds", "snapshots", "analyses")


@dataclass
class DbtResult:
    success: bool
    statuses: Counter = field(default_factory=Counter)  # e.g. {"pass": 520, "warn": 1}
    failed: list[str] = field(default_factory=list)  # unique ids of nodes that errored or failed
    result: Any = None  # dbt's own result object (a manifest after `parse`)

    def __bool__(self) -> bool:
        return self.success

    def summary(self) -> str:
        return ", ".join(f"{n} {status}" for status, n in sorted(self.statuses.items()))


class DbtError(RuntimeError):
    """dbt itself could not run (not: a model or test failed)."""


def dbt_args(command: list[str], target_path: Path | None = None) -> list[str]:
    args = [*command, "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)]
    if target_path is not None:
        args += ["--target-path", str(target_path)]
    return args


def run_dbt(
    command: list[str],
    settings: Settings,
    quiet: bool = False,
    target_path: Path | None = None,
    manifest: Any = None,
) -> DbtResult:
    """Invoke dbt (e.g. ["build"]) in this process; `manifest` skips parsing again."""
    from dbt.cli.main import dbtRunner

    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    export_environment(settings)
    if target_path is None and settings.engine != "duckdb":
        # Each engine parses and compiles into its own folder: a DuckDB and a Spark run
        # alternating (the cross-engine test) never invalidate each other's partial parse.
        target_path = TARGET_DIR / settings.engine
    args = dbt_args(command, target_path) + (["--quiet"] if quiet else [])
    outcome = dbtRunner(manifest=manifest).invoke(args)
    if outcome.exception is not None:
        raise DbtError(f"dbt {' '.join(command)} failed: {outcome.exception}")
    result = DbtResult(success=bool(outcome.success), result=outcome.result)
    for node in getattr(outcome.result, "results", None) or []:
        status = str(getattr(node.status, "value", node.status))
        result.statuses[status] += 1
        if status in ("error", "fail"):
            result.failed.append(node.node.unique_id)
    return result


def manifest_is_stale(manifest: Path = MANIFEST_PATH) -> bool:
    """Missing, or older than any file dbt parses: the asset graph must match the project."""
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    sources = [DBT_PROJECT_DIR / "dbt_project.yml", DBT_PROJECT_DIR / "profiles.yml"]
    for folder in PARSED_FOLDERS:
        sources.extend(p for p in (DBT_PROJECT_DIR / folder).rglob("*") if p.is_file())
    return any(p.exists() and p.stat().st_mtime > built for p in sources)


def manifest_path(settings: Settings) -> Path:
    """Where `run_dbt` leaves the manifest for this engine (target/, or target/<engine>/)."""
    return MANIFEST_PATH if settings.engine == "duckdb" else TARGET_DIR / settings.engine / "manifest.json"


def ensure_manifest(settings: Settings) -> Path:
    """The engine's target/manifest.json, parsed again when older than the project (no
    manual step anywhere)."""
    path = manifest_path(settings)
    if manifest_is_stale(path):
        result = run_dbt(["parse"], settings, quiet=True)
        if not result.success:
            raise DbtError("dbt parse failed (run `dbt parse` in dbt_project/ to see why)")
    return path


def load_manifest(settings: Settings) -> dict[str, Any]:
    """The dbt manifest as a dict: the one loader the policy check, the contract generator
    and Dagster share."""
    return json.loads(ensure_manifest(settings).read_text(encoding="utf-8"))
