"""Every setting in one place, each overridable from the environment.

This is the only module that reads or writes `os.environ`. Everything else is handed a
`Settings`; tests build their own with `dataclasses.replace(load_settings(), ...)`.
Paths are resolved against the project root so that the CLI, dbt, Dagster and the tests
agree on where the warehouse and inbox are, whatever the working directory.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
EXPORT_FORMATS_FILE = PROJECT_ROOT / "ingestion" / "export_formats.yml"

# Tools this project runs must not phone home (the machines are offline), and dlt must
# leave no copy of loaded data behind: completed load packages are deleted and the
# staging dataset truncated.
PROCESS_DEFAULTS = {
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "DO_NOT_TRACK": "1",
    "RUNTIME__DLTHUB_TELEMETRY": "false",
    "SODA_CORE_TELEMETRY_ENABLED": "false",
    "LOAD__DELETE_COMPLETED_JOBS": "true",
    "LOAD__TRUNCATE_STAGING_DATASET": "true",
    "NORMALIZE__PARQUET_NORMALIZER__ADD_DLT_LOAD_ID": "true",
}


class SettingsError(ValueError):
    """A setting has a value the project cannot use."""


@dataclass(frozen=True)
class Settings:
    """Resolved settings; build one with `load_settings()` so overrides apply."""

    warehouse: Path
    inbox: Path
    dlt_dir: Path
    timezone: str = "Asia/Shanghai"
    # DuckDB's memory limit and worker threads, applied to dbt's connections (profile) and
    # to every connection opened through mallcrm.core.warehouse.connect().
    duckdb_memory_limit: str = "3GB"
    duckdb_threads: int = 2
    models_dir: Path = PROJECT_ROOT / "models"
    privacy_dir: Path | None = None  # None: <warehouse dir>/privacy
    requests_dir: Path | None = None  # None: <inbox>/../requests
    dagster_home: Path = PROJECT_ROOT / ".dagster_home"
    # The instant the Soda contracts measure freshness and retention against: None is the
    # warehouse's newest load, "now" the wall clock, else an ISO timestamp.
    quality_as_of: str | None = None
    # Dagster schedules and sensors start stopped (turned on in the UI) unless switched on
    # here: `automation` the refresh schedule and the inbox sensor, `privacy_automation`
    # the destructive nightly privacy_daily job (retention purge, erasures), on its own.
    automation: bool = False
    privacy_automation: bool = False
    # Secrets. Empty means the public demo key (privacy/tokens.py, privacy/audit.py).
    hmac_key: str = ""
    hmac_key_version: str = ""
    suppression_key: str = ""
    audit_key: str = ""
    dlt_progress: bool = False
    dbt_log_level_file: str = "info"
    # Where the marts are built: "duckdb" (the warehouse file, the default) or "spark" (a
    # Spark cluster through its Thrift server; raw data lands as Parquet in the lake).
    engine: str = "duckdb"
    lake: str = ""  # "" : <warehouse dir>/lake; a folder or an object-store URL (dlt's credentials)
    spark_host: str = "127.0.0.1"
    spark_port: int = 10000  # the Thrift (JDBC/ODBC) server dbt and the ML steps connect to
    spark_dir: Path | None = None  # None: <warehouse dir>/spark (the local cluster's files)
    spark_worker_memory: str = "2g"
    java_home: Path | None = None  # JAVA_HOME; None: the JDK of `javac` on the PATH
    # Activation: audience exports (files for the channels) and their delivery to a
    # database table a marketing tool reads (PostgreSQL; the local server of postgres/).
    outbox: Path = PROJECT_ROOT / "data" / "outbox"
    postgres_dsn: str = ""  # "" : the local server (postgres_port, postgres_dir) started by the project
    postgres_port: int = 5433
    postgres_dir: Path | None = None  # None: <warehouse dir>/postgres (the local server's cluster)

    @property
    def warehouse_dir(self) -> Path:
        return self.warehouse.parent

    @property
    def privacy_path(self) -> Path:
        """Audit log, suppression list, access exports and reports: outside the warehouse
        file on purpose, so compaction or a rebuild from the inbox keeps them."""
        return self.privacy_dir or self.warehouse_dir / "privacy"

    @property
    def lake_url(self) -> str:
        """Root of the raw Parquet tables a Spark cluster reads (engine spark)."""
        return self.lake or str(self.warehouse_dir / "lake")

    @property
    def spark_path(self) -> Path:
        """The local Spark cluster's metastore, table files, logs and process ids."""
        return self.spark_dir or self.warehouse_dir / "spark"

    @property
    def postgres_path(self) -> Path:
        """The local PostgreSQL server's data directory, socket and log."""
        return self.postgres_dir or self.warehouse_dir / "postgres"

    @property
    def requests_path(self) -> Path:
        """The data-subject requests inbox (one JSON file per request)."""
        return self.requests_dir or self.inbox.parent / "requests"


def _resolve(value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else PROJECT_ROOT / path


def _timezone(name: str) -> str:
    """An IANA zone name, checked before it reaches SQL (ingestion and the dbt var use it)."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(f"MALLCRM_TIMEZONE={name!r} is not an IANA time zone (e.g. Asia/Shanghai)") from None
    return name


ENGINES = ("duckdb", "spark")


def _engine(name: str) -> str:
    if name not in ENGINES:
        raise SettingsError(f"MALLCRM_ENGINE={name!r} is not one of {', '.join(ENGINES)}")
    return name


def _port(name: str, value: str) -> int:
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise SettingsError(f"{name}={value!r} must be a TCP port number")
    return int(value)


def _switch(name: str, value: str) -> bool:
    if value not in ("on", "off"):
        raise SettingsError(f"{name}={value!r} must be on or off")
    return value == "on"


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read the settings from the environment (or from `environ`)."""
    env = os.environ if environ is None else environ

    def path(name: str, default: str) -> Path:
        return _resolve(env.get(name) or default)

    def optional_path(name: str) -> Path | None:
        return _resolve(env[name]) if env.get(name) else None

    warehouse = path("MALLCRM_WAREHOUSE", "warehouse/mallcrm.duckdb")
    threads = env.get("MALLCRM_DUCKDB_THREADS") or str(os.cpu_count() or 2)
    if not threads.isdigit() or int(threads) < 1:
        raise SettingsError(f"MALLCRM_DUCKDB_THREADS={threads!r} must be a positive whole number")
    return Settings(
        warehouse=warehouse,
        inbox=path("MALLCRM_INBOX", "data/inbox"),
        # dlt's working folder (state, load packages) lives beside the warehouse so that
        # a new warehouse path never inherits another warehouse's load state.
        dlt_dir=path("MALLCRM_DLT_DIR", str(warehouse.parent / ".dlt")),
        timezone=_timezone(env.get("MALLCRM_TIMEZONE") or "Asia/Shanghai"),
        duckdb_memory_limit=env.get("MALLCRM_DUCKDB_MEMORY_LIMIT") or "3GB",
        duckdb_threads=int(threads),
        models_dir=path("MALLCRM_MODELS_DIR", "models"),
        privacy_dir=optional_path("MALLCRM_PRIVACY_DIR"),
        requests_dir=optional_path("MALLCRM_REQUESTS"),
        dagster_home=path("DAGSTER_HOME", ".dagster_home"),
        quality_as_of=(env.get("MALLCRM_QUALITY_AS_OF") or "").strip() or None,
        automation=_switch("MALLCRM_AUTOMATION", env.get("MALLCRM_AUTOMATION") or "off"),
        privacy_automation=_switch("MALLCRM_PRIVACY_AUTOMATION", env.get("MALLCRM_PRIVACY_AUTOMATION") or "off"),
        hmac_key=env.get("MALLCRM_HMAC_KEY") or "",
        hmac_key_version=env.get("MALLCRM_HMAC_KEY_VERSION") or "",
        suppression_key=env.get("MALLCRM_SUPPRESSION_KEY") or "",
        audit_key=env.get("MALLCRM_AUDIT_KEY") or "",
        dlt_progress=bool(env.get("MALLCRM_DLT_PROGRESS")),
        dbt_log_level_file=env.get("DBT_LOG_LEVEL_FILE") or "info",
        engine=_engine(env.get("MALLCRM_ENGINE") or "duckdb"),
        lake=env.get("MALLCRM_LAKE") or "",
        spark_host=env.get("MALLCRM_SPARK_HOST") or "127.0.0.1",
        spark_port=_port("MALLCRM_SPARK_PORT", env.get("MALLCRM_SPARK_PORT") or "10000"),
        spark_dir=optional_path("MALLCRM_SPARK_DIR"),
        spark_worker_memory=env.get("MALLCRM_SPARK_WORKER_MEMORY") or "2g",
        java_home=Path(env["JAVA_HOME"]) if env.get("JAVA_HOME") else None,
        outbox=path("MALLCRM_OUTBOX", "data/outbox"),
        postgres_dsn=env.get("MALLCRM_POSTGRES_DSN") or "",
        postgres_port=_port("MALLCRM_POSTGRES_PORT", env.get("MALLCRM_POSTGRES_PORT") or "5433"),
        postgres_dir=optional_path("MALLCRM_POSTGRES_DIR"),
    )


def settings_environment(settings: Settings) -> dict[str, str]:
    """The variables that carry `settings` into a child process or an in-process tool
    that reads its configuration from the environment (dbt's profile and plugin, dlt)."""
    env = {
        "MALLCRM_WAREHOUSE": str(settings.warehouse),
        "MALLCRM_INBOX": str(settings.inbox),
        "MALLCRM_DLT_DIR": str(settings.dlt_dir),
        "MALLCRM_TIMEZONE": settings.timezone,
        "MALLCRM_DUCKDB_MEMORY_LIMIT": settings.duckdb_memory_limit,
        "MALLCRM_DUCKDB_THREADS": str(settings.duckdb_threads),
        "MALLCRM_MODELS_DIR": str(settings.models_dir),
        "MALLCRM_PRIVACY_DIR": str(settings.privacy_path),
        "MALLCRM_REQUESTS": str(settings.requests_path),
        "DAGSTER_HOME": str(settings.dagster_home),
        "MALLCRM_QUALITY_AS_OF": settings.quality_as_of or "",
        "MALLCRM_AUTOMATION": "on" if settings.automation else "off",
        "MALLCRM_PRIVACY_AUTOMATION": "on" if settings.privacy_automation else "off",
        "MALLCRM_HMAC_KEY": settings.hmac_key,
        "MALLCRM_HMAC_KEY_VERSION": settings.hmac_key_version,
        "MALLCRM_SUPPRESSION_KEY": settings.suppression_key,
        "MALLCRM_AUDIT_KEY": settings.audit_key,
        "MALLCRM_DLT_PROGRESS": "1" if settings.dlt_progress else "",
        # dbt.log at info (node starts and results, errors with their SQL), not dbt's
        # default debug, which logs every statement (docs/performance.md).
        "DBT_LOG_LEVEL_FILE": settings.dbt_log_level_file,
        # dbt's target (profiles.yml) and the Spark connection
        "MALLCRM_ENGINE": settings.engine,
        "MALLCRM_LAKE": settings.lake_url,
        "MALLCRM_SPARK_HOST": settings.spark_host,
        "MALLCRM_SPARK_PORT": str(settings.spark_port),
        "MALLCRM_SPARK_DIR": str(settings.spark_path),
        "MALLCRM_SPARK_WORKER_MEMORY": settings.spark_worker_memory,
        "JAVA_HOME": str(settings.java_home or ""),
        "MALLCRM_OUTBOX": str(settings.outbox),
        "MALLCRM_POSTGRES_DSN": settings.postgres_dsn,
        "MALLCRM_POSTGRES_PORT": str(settings.postgres_port),
        "MALLCRM_POSTGRES_DIR": str(settings.postgres_path),
    }
    return {**PROCESS_DEFAULTS, **env}


def child_environment(settings: Settings) -> dict[str, str]:
    """The whole environment for a child process (a CLI call, `dagster dev`, a bench stage)."""
    return {**os.environ, **settings_environment(settings)}


def export_environment(settings: Settings) -> None:
    """Make this process's in-process tools (dbt, dlt, Soda) see `settings`.

    dbt reads its profile and the privacy plugin reads the key from the environment, so
    the one way to point an in-process dbt at a warehouse is to export it here."""
    for key, value in settings_environment(settings).items():
        if value:
            os.environ[key] = value
        else:
            os.environ.pop(key, None)
