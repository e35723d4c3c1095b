"""dlt assets: one per export entity, keyed [raw_<system>, <entity>] so dbt sources attach.

Upstream of each sits an external asset [inbox, <system>, <entity>] that stands for the
export files themselves, so lineage runs unbroken from the inbox to every staging model.
"""

from __future__ import annotations

from collections.abc import Iterable

import dagster as dg
from dagster_dlt import DagsterDltResource, DagsterDltTranslator, dlt_assets
from dagster_dlt.translator import DltResourceTranslatorData

from ingestion.contracts import load_contract
from ingestion.pipeline import make_pipeline
from ingestion.sources import IngestLog, system_source
from mallcrm.settings import Settings

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


def _system_assets(system: str, settings: Settings) -> dg.AssetsDefinition:
    translator = MallDltTranslator(system)
    pipeline = make_pipeline(system, settings)

    @dlt_assets(
        dlt_source=system_source(system, lambda: settings.inbox, lambda: settings.warehouse),
        dlt_pipeline=pipeline,
        name=f"ingest_{system}",
        group_name=INGESTION_GROUP,
        dagster_dlt_translator=translator,
        pool="duckdb_warehouse",
    )
    def _assets(context: dg.AssetExecutionContext, dlt: DagsterDltResource) -> Iterable:
        log = IngestLog()
        source = system_source(system, lambda: settings.inbox, lambda: settings.warehouse, log)
        events = list(
            dlt.run(context=context, dlt_source=source, dlt_pipeline=pipeline, dagster_dlt_translator=translator)
        )
        for event in events:
            entity = event.asset_key.path[-1]
            mine = IngestLog(files=[f for f in log.files if f["entity"] == entity])
            yield dg.MaterializeResult(
                asset_key=event.asset_key, metadata={**(event.metadata or {}), **_summary_metadata(mine)}
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
