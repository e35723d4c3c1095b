"""What a published copy gets besides its tables: the dbt docs as comments and the metric
views. Loaded once per publish from the manifest, applied to each copy."""

from __future__ import annotations

from dataclasses import dataclass

from mallcrm.core.dbt import load_manifest
from mallcrm.core.settings import Settings
from semantic.comments import comment_statements
from semantic.docs import TableDoc, docs_from_manifest
from semantic.metrics import Metric, create_metric_views, metrics_from_manifest


@dataclass(frozen=True)
class SemanticLayer:
    docs: dict[str, TableDoc]
    metrics: dict[str, Metric]

    def apply(self, con, dialect: str, tables: dict[str, list[str]], catalog: str | None = None) -> list[str]:
        """Comment every table and column of `tables` ("schema.table" -> the columns the copy
        holds) and create the metric views the copy can answer; returns those metrics."""
        for statement in comment_statements(self.docs, tables, dialect, catalog):
            con.execute(statement)
        return create_metric_views(con, dialect, tables, self.metrics, catalog)


def load_semantic_layer(settings: Settings) -> SemanticLayer:
    manifest = load_manifest(settings)
    return SemanticLayer(docs_from_manifest(manifest), metrics_from_manifest(manifest))
