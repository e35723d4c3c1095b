"""Ingestion assets: one multi-asset per source system, keyed [raw_<system>, <entity>] so
the dbt sources attach to them.

Upstream of each sits an external asset [inbox, <system>, <entity>] that stands for the
export files themselves, so lineage runs unbroken from the inbox to every staging model.
The work is `pipeline.steps.ingest`, the same function the CLI runs (with its recovery
from killed runs and the write lock).
"""

from collections.abc import Iterable

import dagster as dg

from ingestion.pipeline import IngestReport
from ingestion.sources import FILES_TABLE, QUARANTINE_TABLE
from mallcrm.core.contract import load_contract
from mallcrm.core.settings import Settings
from orchestration.resources import WRITER
from pipeline import steps
from privacy.suppression import SUPPRESSED_TABLE

INGESTION_GROUP = "ingestion"
POOL = "duckdb_warehouse"


def inbox_specs() -> list[dg.AssetSpec]:
    """The export files in the inbox, as external assets (nothing materializes them here)."""
    contract = load_contract()
    return [
        dg.AssetSpec(
            key=dg.AssetKey(["inbox", e.system, e.entity]),
            description=f"{e.system}/{e.entity}_<YYYYMMDD>.{e.extension} files in the inbox — {e.description}",
            group_name="inbox",
            kinds={e.format},
            metadata={"contract_version": contract.version, "primary_key": ", ".join(e.primary_key)},
        )
        for e in contract.formats
    ]


def _summary_metadata(files: list[dict]) -> dict:
    refused = [f for f in files if f["status"] == "refused"]
    return {
        "files": len(files),
        "rows_loaded": sum(f["rows_loaded"] for f in files),
        "rows_quarantined": sum(f["rows_quarantined"] for f in files),
        "rows_suppressed": sum(f.get("rows_suppressed", 0) for f in files),
        "refused_files": dg.MetadataValue.md(
            "\n".join(f"- `{f['source_file']}`: {f['reason']}" for f in refused) or "none"
        ),
    }


def _specs(system: str) -> list[dg.AssetSpec]:
    contract = load_contract()
    dataset = contract.dataset(system)
    exports = contract.for_system(system)
    inbox = [dg.AssetKey(["inbox", system, e.entity]) for e in exports]
    entity_specs = [
        dg.AssetSpec(
            key=dg.AssetKey([dataset, e.entity]),
            deps=[dg.AssetKey(["inbox", system, e.entity])],
            group_name=INGESTION_GROUP,
            description=f"Raw {system}/{e.entity} rows loaded by dlt: {e.description}",
            kinds={"dlt", "duckdb"},
        )
        for e in exports
    ]
    bookkeeping = {
        FILES_TABLE: f"One row per {system} export file seen: rows in file = loaded + quarantined.",
        QUARANTINE_TABLE: f"Rows of {system} exports that broke the contract: file, line, rule, reason.",
        SUPPRESSED_TABLE: f"Per {system} file, rows of erased people kept out by the privacy suppression list.",
    }
    return entity_specs + [
        dg.AssetSpec(
            key=dg.AssetKey([dataset, table]),
            deps=inbox,
            group_name=INGESTION_GROUP,
            description=text,
            kinds={"dlt", "duckdb"},
        )
        for table, text in bookkeeping.items()
    ]


def _results(system: str, report: IngestReport) -> Iterable[dg.MaterializeResult]:
    contract = load_contract()
    dataset = contract.dataset(system)
    for export in contract.for_system(system):
        mine = [f for f in report.files if f["entity"] == export.entity]
        yield dg.MaterializeResult(asset_key=dg.AssetKey([dataset, export.entity]), metadata=_summary_metadata(mine))
    whole = _summary_metadata(report.files)
    whole["unmatched_inbox_files"] = dg.MetadataValue.md(
        "\n".join(f"- `{line}`" for line in report.unmatched) or "none"
    )
    whole["waiting_files"] = dg.MetadataValue.md("\n".join(f"- `{line}`" for line in report.waiting) or "none")
    yield dg.MaterializeResult(asset_key=dg.AssetKey([dataset, FILES_TABLE]), metadata=whole)
    yield dg.MaterializeResult(
        asset_key=dg.AssetKey([dataset, QUARANTINE_TABLE]), metadata={"rows_quarantined": whole["rows_quarantined"]}
    )
    yield dg.MaterializeResult(
        asset_key=dg.AssetKey([dataset, SUPPRESSED_TABLE]), metadata={"rows_suppressed": whole["rows_suppressed"]}
    )


def _system_assets(system: str, settings: Settings) -> dg.AssetsDefinition:
    """All entities of one system load together: their file bookkeeping is shared, so a
    subset run could record a file as loaded for one entity and not another."""

    @dg.multi_asset(
        name=f"ingest_{system}",
        specs=_specs(system),
        can_subset=False,
        pool=POOL,
        required_resource_keys={WRITER},
        description=f"Load new {system} exports from the inbox with dlt (pipeline.steps.ingest).",
    )
    def _assets(context: dg.AssetExecutionContext) -> Iterable:
        report = steps.ingest(settings, [system], command=f"dagster ingest {system}")
        yield from _results(system, report)
        if report.unmatched:
            context.log.warning(
                "inbox files that fit no export of the contract (not read): " + "; ".join(report.unmatched)
            )
        if report.refused:
            context.log.error(
                "refused files (rows quarantined): "
                + "; ".join(f"{f['source_file']}: {f['reason']}" for f in report.refused)
            )

    return _assets


def build_ingestion_assets(settings: Settings) -> list:
    return [*inbox_specs(), *(_system_assets(system, settings) for system in load_contract().systems)]
