"""Run the dlt pipelines: every source system's new files into its raw_<system> dataset."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import dlt

from ingestion.contracts import load_contract
from ingestion.sources import IngestLog, scan_inbox, system_source
from mallcrm.settings import Settings, load_settings

# dlt must leave no copy of loaded data behind: completed load packages are deleted
# and the staging dataset truncated. Telemetry is off (the machines are offline).
DLT_ENVIRONMENT = {
    "LOAD__DELETE_COMPLETED_JOBS": "true",
    "LOAD__TRUNCATE_STAGING_DATASET": "true",
    "RUNTIME__DLTHUB_TELEMETRY": "false",
    "NORMALIZE__PARQUET_NORMALIZER__ADD_DLT_LOAD_ID": "true",
}


def configure_dlt() -> None:
    for key, value in DLT_ENVIRONMENT.items():
        os.environ.setdefault(key, value)


def make_pipeline(system: str, settings: Settings) -> dlt.Pipeline:
    configure_dlt()
    contract = load_contract()
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    return dlt.pipeline(
        pipeline_name=f"mallcrm_{system}",
        destination=dlt.destinations.duckdb(str(settings.warehouse)),
        dataset_name=contract.dataset(system),
        pipelines_dir=str(settings.dlt_dir),
        progress="log" if os.environ.get("MALLCRM_DLT_PROGRESS") else None,
    )


@dataclass
class IngestReport:
    files: list[dict] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)

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


def run_ingestion(settings: Settings | None = None, systems: list[str] | None = None) -> IngestReport:
    """Load every new file of the inbox; returns what happened to each file."""
    settings = settings or load_settings()
    contract = load_contract()
    report = IngestReport()
    log = IngestLog()
    scan_inbox(settings.inbox, contract, log)
    report.unmatched = log.unmatched
    for system in systems or contract.systems:
        source = system_source(system, lambda: settings.inbox, lambda: settings.warehouse, log)
        pipeline = make_pipeline(system, settings)
        if pipeline.has_pending_data:
            # A run that died (killed, disk full) left packages behind: finish them first.
            # `run` would load them and skip extracting, leaving today's files for a
            # third run; the source then reads the completed `ingested_files`.
            pipeline.normalize()
            pipeline.load()
        pipeline.run(source)
    report.files = log.files
    return report

