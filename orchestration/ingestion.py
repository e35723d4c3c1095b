"""dlt assets: one per export entity, keyed [raw_<system>, <entity>] so dbt sources attach.

Upstream of each sits an external asset [inbox, <system>, <entity>] that stands for the
export files themselves, so lineage runs unbroken from the inbox to every staging model.
"""


from collections.abc import Iterable

import dagster as dg
from dagster import AssetExecutionContext
from dagster_dlt import DagsterDltResource, DagsterDltTranslator
from dagster_dlt.translator import DltResourceTranslatorData

from ingestion.contracts import load_contract
from ingestion.pipeline import make_pipeline
from ingestion.sources import FILES_TABLE, QUARANTINE_TABLE, IngestLog, system_source
from mallcrm.settings import Settings
from privacy.suppression import SUPPRESSED_TABLE

INGESTION_GROUP = "ingestion"


class MallDltTranslator(DagsterDltTranslator):
    def __init__(self, system: str):
        self.system = system

    def get_asset_spec(self, data: DltResourceTranslatorData) -> dg.AssetSpec:
        contract = load_contract()
        export = contract.get(self.system, data.resource.name)
        spec = super().get_asset_spec(data)
        return spec.replace_attributes(
            key=dg.AssetKey([export.dataset, export.entity]),
            deps=[dg.AssetKey(["inbox", self.system, export.entity])],
            group_name=INGESTION_GROUP,
            description=f"Raw {self.system}/{export.entity} rows loaded by dlt: {export.description}",
            kinds={"dlt", "duckdb"},
        )


def inbox_specs() -> list[dg.AssetSpec]:
    """The export files in the inbox, as external assets (nothing materializes them here)."""
    return [
        dg.AssetSpec(
            key=dg.AssetKey(["inbox", e.system, e.entity]),
            description=f"{e.system}/{e.entity}_<YYYYMMDD>.{e.extension} files in the inbox — {e.description}",
            group_name="inbox",
            kinds={e.format},
            metadata={"contract_version": load_contract().version, "primary_key": ", ".join(e.primary_key)},
        )
        for e in load_contract().formats
    ]


def _summary_metadata(log: IngestLog) -> dict:
    refused = [f for f in log.files if f["status"] == "refused"]
    return {
        "files": len(log.files),
        "rows_loaded": sum(f["rows_loaded"] for f in log.files),
        "rows_quarantined": sum(f["rows_quarantined"] for f in log.files),
        "refused_files": dg.MetadataValue.md(
            "\n".join(f"- `{f['source_file']}`: {f['reason']}" for f in refused) or "none"
        ),
    }


def _bookkeeping_specs(system: str) -> list[dg.AssetSpec]:
    dataset = load_contract().dataset(system)
    inbox = [dg.AssetKey(["inbox", system, e.entity]) for e in load_contract().for_system(system)]
    return [
        dg.AssetSpec(
            key=dg.AssetKey([dataset, FILES_TABLE]),
            deps=inbox,
            group_name=INGESTION_GROUP,
            description=f"One row per {system} export file seen: rows in file = loaded + quarantined.",
            kinds={"dlt", "duckdb"},
        ),
        dg.AssetSpec(
            key=dg.AssetKey([dataset, QUARANTINE_TABLE]),
            deps=inbox,
            group_name=INGESTION_GROUP,
            description=f"Rows of {system} exports that broke the contract: file, line, rule, reason.",
            kinds={"dlt", "duckdb"},
        ),
        dg.AssetSpec(
            key=dg.AssetKey([dataset, SUPPRESSED_TABLE]),
            deps=inbox,
            group_name=INGESTION_GROUP,
            description=f"Per {system} file, rows of erased people kept out by the privacy suppression list.",
            kinds={"dlt", "duckdb"},
        ),
    ]


def _system_assets(system: str, settings: Settings) -> dg.AssetsDefinition:
    """All entities of one system load together: their file bookkeeping is shared, so a
    subset run could record a file as loaded for one entity and not another."""
    translator = MallDltTranslator(system)
    pipeline = make_pipeline(system, settings)
    definition_source = system_source(system, lambda: settings.inbox, lambda: settings.warehouse)
    entity_specs = [
        translator.get_asset_spec(DltResourceTranslatorData(resource=r, pipeline=pipeline))
        for r in definition_source.resources.values()
    ]

    @dg.multi_asset(
        name=f"ingest_{system}",
        specs=[*entity_specs, *_bookkeeping_specs(system)],
        can_subset=False,
        pool="duckdb_warehouse",
        description=f"Load new {system} exports from the inbox with dlt (one pipeline per source system).",
    )
    def _assets(context: AssetExecutionContext, dlt: DagsterDltResource) -> Iterable:
        log = IngestLog()
        source = system_source(system, lambda: settings.inbox, lambda: settings.warehouse, log)
        for event in dlt.run(context=context, dlt_source=source, dlt_pipeline=pipeline,
                             dagster_dlt_translator=translator):
            entity = event.asset_key.path[-1]
            mine = IngestLog(files=[f for f in log.files if f["entity"] == entity])
            yield dg.MaterializeResult(
                asset_key=event.asset_key, metadata={**(event.metadata or {}), **_summary_metadata(mine)}
            )
        dataset = load_contract().dataset(system)
        yield dg.MaterializeResult(asset_key=dg.AssetKey([dataset, FILES_TABLE]), metadata=_summary_metadata(log))
        yield dg.MaterializeResult(
            asset_key=dg.AssetKey([dataset, QUARANTINE_TABLE]),
            metadata={"rows_quarantined": sum(f["rows_quarantined"] for f in log.files)},
        )
        yield dg.MaterializeResult(
            asset_key=dg.AssetKey([dataset, SUPPRESSED_TABLE]),
            metadata={"rows_suppressed": sum(f.get("rows_suppressed", 0) for f in log.files)},
        )
        refused = [f for f in log.files if f["status"] == "refused"]
        if refused:
            context.log.error(
                "refused files (rows quarantined): "
                + "; ".join(f"{f['source_file']}: {f['reason']}" for f in refused)
            )

    return _assets


def build_dlt_assets(settings: Settings) -> list[dg.AssetsDefinition]:
    return [_system_assets(system, settings) for system in load_contract().systems]
