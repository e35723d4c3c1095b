"""Run the dlt pipelines: every source system's new files into its raw_<system> dataset."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import dlt
from dlt.common.storages.load_package import PackageStorage

from ingestion.cross_rules import apply_cross_rules
from ingestion.lake import sync_lake
from ingestion.sources import FileHashes, IngestLog, system_source
from mallcrm.core.contract import load_contract
from mallcrm.core.inbox import inbox_state
from mallcrm.core.settings import Settings, export_environment
from mallcrm.core.warehouse import connect
from spark.catalog import register_raw_tables
from spark.lake import table_location


def stored_columns(pipeline: dlt.Pipeline) -> dict[str, set[str]]:
    """The columns of each table in the pipeline's stored schema (none before its first run)."""
    if not pipeline.default_schema_name:
        return {}
    return {name: set(table.get("columns", {})) for name, table in pipeline.default_schema.tables.items()}


def make_pipeline(system: str, settings: Settings) -> dlt.Pipeline:
    contract = load_contract()
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    export_environment(settings)  # dlt reads its load options from the environment
    return dlt.pipeline(
        pipeline_name=f"mallcrm_{system}",
        destination=dlt.destinations.duckdb(str(settings.warehouse)),
        dataset_name=contract.dataset(system),
        pipelines_dir=str(settings.dlt_dir),
        progress="log" if settings.dlt_progress else None,
    )


@dataclass
class IngestReport:
    files: list[dict] = field(default_factory=list)
    # files in the inbox that fit no export of the contract (not read): need attention
    unmatched: list[str] = field(default_factory=list)
    # export files not complete yet (still being written): left for a later run
    waiting: list[str] = field(default_factory=list)
    # engine spark: what was published to the lake (ingestion.lake.LakeSync)
    lake: object = None

    def totals(self) -> dict[str, int]:
        keys = ("rows_in_file", "rows_loaded", "rows_quarantined")
        out = {k: sum(f[k] for f in self.files) for k in keys}
        out["files"] = len(self.files)
        return out

    @property
    def refused(self) -> list[dict]:
        return [f for f in self.files if f["status"] == "refused"]

    @property
    def duplicates(self) -> list[dict]:
        return [f for f in self.files if f["status"] == "duplicate"]

    @property
    def corrections(self) -> list[dict]:
        """Files loaded again because their content changed after an earlier load."""
        return [f for f in self.files if f.get("correction_of")]

    @property
    def needs_attention(self) -> bool:
        """A file was refused or could not be matched to the contract (exit code 3)."""
        return bool(self.refused or self.unmatched)


def undo_uncommitted_jobs(pipeline: dlt.Pipeline) -> dict[str, int]:
    """Delete what a killed load wrote for jobs dlt will run again; returns rows per table.

    dlt marks a job done only after the warehouse committed it, so a run killed between the
    two leaves a "started" job whose rows are already in the table. Retrying it would load
    them twice (append tables: `ingested_files`, ledgers, quarantine). Every row carries the
    `_dlt_load_id` of its package, and a package's table is written by one job, so deleting
    the package's rows from that table makes the retry exact. Jobs that recorded their commit
    (a pending transition) are not retried by dlt and are left alone.
    """
    undone: dict[str, int] = {}
    for load_id in pipeline.list_normalized_load_packages():
        package = pipeline.get_load_package_info(load_id)
        transitions = Path(package.package_path) / PackageStorage.PENDING_TRANSITIONS_FOLDER
        tables = {
            job.job_file_info.table_name
            for job in package.jobs.get("started_jobs", [])
            if job.job_file_info.file_format != "sql" and not (transitions / Path(job.file_path).name).exists()
        }
        if not tables:
            continue
        with pipeline.sql_client() as client:
            for table in sorted(tables):
                if not client.has_dataset() or table not in _tables_with_load_id(client):
                    continue
                rows = client.execute_sql(
                    f"delete from {client.make_qualified_table_name(table)} where _dlt_load_id = %s returning 1",
                    load_id,
                )
                undone[table] = undone.get(table, 0) + len(rows or [])
    return undone


def _tables_with_load_id(client) -> set[str]:
    rows = client.execute_sql(
        "select table_name from information_schema.columns where table_schema = %s and column_name = '_dlt_load_id'",
        client.dataset_name,
    )
    return {row[0] for row in rows}


def run_ingestion(settings: Settings, systems: list[str] | None = None) -> IngestReport:
    """Load every new file of the inbox; returns what happened to each file.

    Call it through pipeline.steps.ingest, which holds the write lock."""
    contract = load_contract()
    report = IngestReport()
    log = IngestLog()
    # The inbox is scanned once per run: unmatched files, which files are complete (a file
    # about to settle is waited for here, once), and each system's files for its source.
    complete = inbox_state(settings.inbox, log, systems, wait=True, contract=contract)
    report.unmatched = log.unmatched
    by_system: dict[str, list] = {}
    for file in complete:
        by_system.setdefault(file.export.system, []).append(file)
    hashes = FileHashes.load(settings)
    # One DuckDB instance for the whole run: dlt's steps, the ledger queries and the cross
    # rules connect to the same file in this process and share it while this connection is
    # open, instead of opening the file (and checkpointing it on close) a few times per system.
    held = connect(settings)
    try:
        _load_systems(settings, systems or contract.systems, log, by_system, hashes)
    finally:
        held.close()
    hashes.save(settings.inbox)
    report.lake = publish_raw(settings, systems)
    report.files = log.files
    report.waiting = log.waiting
    return report


def publish_raw(settings: Settings, systems: list[str] | None = None):
    """Engine spark: bring the lake and the cluster's raw tables in line with the raw
    tables of the warehouse (after a load, an erasure or a retention purge changed them).
    Returns the lake sync (ingestion.lake.LakeSync); None on DuckDB, which reads raw in place."""
    if settings.engine != "spark":
        return None
    sync = sync_lake(settings, systems)
    # tables without a file yet stay unregistered: dbt reads them as empty (source_or_empty)
    in_lake = {table: table_location(settings, table) for table, files in sync.loads_in_lake.items() if files}
    register_raw_tables(settings, in_lake, set(sync.changed_tables))
    return sync


def _load_systems(settings: Settings, systems: list[str], log: IngestLog, by_system: dict, hashes: FileHashes) -> None:
    for system in systems:
        pipeline = make_pipeline(system, settings)
        source = system_source(
            system,
            settings,
            log,
            files=by_system.get(system, []),
            hashes=hashes,
            stored_columns=stored_columns(pipeline),
        )
        if pipeline.has_pending_data:
            # A run that died (killed, disk full) left packages behind: finish them first.
            # `run` would load them and skip extracting, leaving today's files for a
            # third run; the source then reads the completed `ingested_files`.
            pipeline.normalize()
            undo_uncommitted_jobs(pipeline)
            pipeline.load()
        pipeline.run(source)
        apply_cross_rules(settings, system, log)  # cross-row rules: offending rows to quarantine
