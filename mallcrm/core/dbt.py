"""Run dbt in-process against the configured warehouse, and read its manifest.

dbt's profile (`dbt_project/profiles.yml`) and the privacy plugin read the warehouse path,
the time zone and the key from the environment, so every invocation first exports the
settings (mallcrm.core.settings.export_environment): the CLI, Dagster, the bench and the
tests then build exactly the same file.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from mallcrm.core.settings import DBT_PROJECT_DIR, Settings, export_environment
from mallcrm.core.warehouse import require_warehouse

TARGET_DIR = DBT_PROJECT_DIR / "target"
MANIFEST_PATH = TARGET_DIR / "manifest.json"
# What dbt parses: a manifest older than any of these is stale.
PARSED_FOLDERS = ("models", "macros", "tests", "seeds", "snapshots", "analyses")
MANIFEST_READ_ATTEMPTS = 20  # half a second apart
# dbt commands that read only the project, never the warehouse: they may run before the first load.
PROJECT_ONLY_COMMANDS = ("parse", "ls", "list", "deps", "clean")
# The events the progress bar counts: each node dbt finished (model, test, seed, snapshot).
NODE_FINISHED = "NodeFinished"


@dataclass
class DbtResult:
    success: bool
    statuses: Counter = field(default_factory=Counter)  # e.g. {"pass": 520, "warn": 1}
    failed: list[str] = field(default_factory=list)  # unique ids of nodes that errored or failed
    result: Any = None  # dbt's own result object (a manifest after `parse`)
    # (status, node name, dbt's message) of every node that warned, failed or errored
    problems: list[tuple[str, str, str]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.success

    @property
    def selected(self) -> int:
        """How many nodes the command ran: 0 when its selection matched nothing."""
        return sum(self.statuses.values())

    def summary(self) -> str:
        return ", ".join(f"{n} {status}" for status, n in sorted(self.statuses.items()))

    def problem_lines(self) -> list[str]:
        """One line per warned, failed or errored node, naming it: a bare "1 warn" says nothing."""
        return [f"{status.upper():<5} {name}: {message}" for status, name, message in self.problems]


class DbtError(RuntimeError):
    """dbt itself could not run (not: a model or test failed)."""


class DbtUsageError(DbtError):
    """dbt refused its command line (an unknown option or a bad value passed through to it)."""


class _Progress:
    """A bar of finished nodes on stderr, fed by dbt's events; total = the nodes selected
    (the `total` of dbt's per-node start lines)."""

    def __init__(self, command: list[str], enabled: bool):
        self.bar = tqdm(desc=f"dbt {command[0]}", unit="node", disable=not enabled, file=sys.stderr, leave=False)

    def __call__(self, event: Any) -> None:
        total = getattr(event.data, "total", 0) if event.info.name == "LogStartLine" else 0
        if total and self.bar.total != total:
            self.bar.total = total
            self.bar.refresh()
        if event.info.name == NODE_FINISHED:
            self.bar.update(1)

    def close(self) -> None:
        self.bar.close()


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
    progress: bool = False,
) -> DbtResult:
    """Invoke dbt (e.g. ["build"]) in this process; `manifest` skips parsing again;
    `progress` shows a bar of finished nodes on stderr (callers pass it on a terminal only).

    A command that reads the warehouse refuses a missing one (WarehouseMissing): dbt-duckdb
    would create an empty file and then fail on the first source it cannot find."""
    from dbt.cli.exceptions import DbtUsageException
    from dbt.cli.main import dbtRunner

    if command[0] not in PROJECT_ONLY_COMMANDS:
        require_warehouse(settings)
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    export_environment(settings)
    if target_path is None and settings.engine != "duckdb":
        # Each engine parses and compiles into its own folder: a DuckDB and a Spark run
        # alternating (the cross-engine test) never invalidate each other's partial parse.
        target_path = TARGET_DIR / settings.engine
    args = dbt_args(command, target_path) + (["--quiet"] if quiet else [])
    bar = _Progress(command, progress)
    try:
        outcome = dbtRunner(manifest=manifest, callbacks=[bar]).invoke(args)
    finally:
        bar.close()
    if isinstance(outcome.exception, DbtUsageException):
        raise DbtUsageError(f"dbt {command[0]} refused its arguments: {outcome.exception}")
    if outcome.exception is not None:
        raise DbtError(f"dbt {' '.join(command)} failed: {outcome.exception}")
    result = DbtResult(success=bool(outcome.success), result=outcome.result)
    for node in getattr(outcome.result, "results", None) or []:
        status = str(getattr(node.status, "value", node.status))
        result.statuses[status] += 1
        if status in ("error", "fail"):
            result.failed.append(node.node.unique_id)
        if status in ("error", "fail", "warn"):
            message = " ".join(str(node.message or "").split())[:300]
            result.problems.append((status, node.node.name, message))
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
    """The dbt manifest as a dict: the one loader the policy check, the contract generator,
    the semantic layer and Dagster share. dbt writes the file in place, so a reader can
    meet it half-written while another process parses (Dagster beside the CLI): it reads
    again for a few seconds before giving up."""
    path = ensure_manifest(settings)
    for attempt in range(MANIFEST_READ_ATTEMPTS):
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            if attempt == MANIFEST_READ_ATTEMPTS - 1:
                raise DbtError(
                    f"{path} stayed unreadable (half-written) for {MANIFEST_READ_ATTEMPTS * 0.5:.0f}s: "
                    "is a dbt parse running? Run the command again when it is done"
                ) from None
            time.sleep(0.5)
    raise AssertionError("unreachable")
