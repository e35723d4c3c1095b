"""The dbt docs of every model, as BI tools should see them.

dbt renders each description (docs blocks included) into the manifest; this reads them
from there, keyed by the relation a model builds ("schema.table"), so a copy of a mart
can carry its documentation wherever it is published."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mallcrm.core.dbt import load_manifest
from mallcrm.core.settings import Settings


@dataclass(frozen=True)
class TableDoc:
    description: str
    columns: dict[str, str] = field(default_factory=dict)  # column -> description


def docs_from_manifest(manifest: dict[str, Any]) -> dict[str, TableDoc]:
    """{"schema.table": TableDoc} for every model and seed of the manifest."""
    out: dict[str, TableDoc] = {}
    for node in manifest.get("nodes", {}).values():
        if node.get("resource_type") not in ("model", "seed"):
            continue
        relation = f"{node['schema']}.{node.get('alias') or node['name']}"
        columns = {
            name: " ".join((spec.get("description") or "").split())
            for name, spec in (node.get("columns") or {}).items()
            if (spec.get("description") or "").strip()
        }
        out[relation] = TableDoc(" ".join((node.get("description") or "").split()), columns)
    return out


def table_docs(settings: Settings) -> dict[str, TableDoc]:
    """The docs of the project's models, from the manifest (parsed again when stale)."""
    return docs_from_manifest(load_manifest(settings))
