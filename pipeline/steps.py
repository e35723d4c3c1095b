"""One function per pipeline step: the only way anything in this project writes the warehouse.

The CLI (cli), the Dagster assets (orchestration/) and the bench (bench/) call
these functions and nothing else, so a guarantee made here holds for all three:

- every step takes `Settings` and reads nothing else;
- every step that writes takes the warehouse's write lock itself (mallcrm.core.lock), so a
  second writer is refused whoever started the first;
- every step can be run again after a killed run (ingestion finishes or undoes dlt's
  half-loaded packages; dbt, training, scoring and publishing rebuild idempotently,
  publications beside their target and renamed into place).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from activation import ledger, outbox
from activation.build import RunSummary, build_audiences
from activation.delivery import DeliveryReport, deliver
from activation.export import ExportSummary, export_audiences, export_dir
from ingestion.pipeline import IngestReport, publish_raw, run_ingestion
from mallcrm.core.dbt import DbtResult, run_dbt
from mallcrm.core.files import write_atomically
from mallcrm.core.lock import write_lock
from mallcrm.core.settings import Settings
from ml import complaint_topics
from ml import models as ml_models
from ml.pipeline import TrainResult, republish_scores, write_scores
from ml.registry import Registry
from privacy import requests as privacy_requests
from privacy import retention
from privacy.bi_copy import BiCopy, publish_bi_copy
from privacy.publish import RoleFile, publish_role_files
from serving import publish as serving_publish
from serving.publish import PublishReport as PostgresPublication
from simulator.activation import read_activations
from simulator.config import SimulationConfig
from simulator.generate import GenerationReport
from simulator.generate import generate as simulate
from spark.views import SparkViews, publish_spark_views


class ModelNotPromoted(RuntimeError):
    """A model version that failed its gate was asked to be promoted."""


# dbt selections the steps use: member 360, the basket-rule and recommendation marts (and
# what reads them: the audiences) read the ML scores as a dbt source.
AFTER_SCORING = "source:ml_scores+"


def generate(
    settings: Settings,
    config: SimulationConfig,
    inbox: Path | None = None,
    progress: bool = False,
    days: range | None = None,
    respond: bool = False,
) -> GenerationReport:
    """Write a simulated mall's daily exports into the inbox (the warehouse is not touched).

    `days` writes only those days of the window; with `respond` the mall answers the
    audience exports in the outbox (simulator/activation.py): the demo's closed loop."""
    activations = read_activations(settings.outbox) if respond else None
    return simulate(config, inbox or settings.inbox, progress=progress, days=days, activations=activations)


def ingest(settings: Settings, systems: list[str] | None = None, command: str = "mallcrm ingest") -> IngestReport:
    """Load every new inbox file of `systems` (default: all) with dlt, finishing or undoing
    what a killed run left behind first."""
    with write_lock(settings, command):
        return run_ingestion(settings, systems)


def build(
    settings: Settings,
    args: list[str] | None = None,
    quiet: bool = False,
    command: str = "mallcrm build",
    target_path: Path | None = None,
    manifest: Any = None,
    progress: bool = False,
) -> DbtResult:
    """`dbt build` with `args` (e.g. ["--select", "staging"]): models, snapshots, tests;
    `progress` shows a bar of finished nodes on stderr (the CLI passes it on a terminal).

    On engine spark the relations Spark built are then made readable from the DuckDB
    warehouse (spark/views.py), so every later step reads them as it reads DuckDB's own;
    after a failed build too, as DuckDB keeps the previous relations of failed models.
    `target_path` and a parsed `manifest` let a caller (the bench) keep parsing out of
    the build it times."""
    with write_lock(settings, command):
        result = run_dbt(
            ["build", *(args or [])],
            settings,
            quiet=quiet,
            target_path=target_path,
            manifest=manifest,
            progress=progress,
        )
        if settings.engine == "spark":
            publish_spark_views(settings)
        return result


def spark_views(settings: Settings, command: str = "mallcrm spark views") -> SparkViews:
    """Engine spark: (re)publish the Spark-built relations as views in the DuckDB warehouse
    (done by every `build`; on its own after a build made outside this project's steps)."""
    with write_lock(settings, command):
        return publish_spark_views(settings)


def train(
    settings: Settings,
    models: list[str] | None = None,
    promote: bool = True,
    command: str = "mallcrm ml train",
    force: bool = False,
) -> list[TrainResult]:
    """Train `models` (default: all of ml.models.MODELS), register each version, and
    promote those that pass their gate (beat their baseline on the holdout). A model
    whose data, settings and code are those of its promoted (or newest) version is not
    retrained (`result.retrained` False) unless `force`."""
    registry = Registry(settings.models_dir)
    with write_lock(settings, command):
        return [
            ml_models.train_model(settings, registry, name, promote=promote, force=force)
            for name in models or ml_models.MODEL_NAMES
        ]


@dataclass
class ScoreResult:
    model: str
    table: str
    rows: int
    model_version: str | None  # None: no promoted version, nothing scored
    frame: pd.DataFrame | None = field(default=None, repr=False)


def promote(settings: Settings, model: str, version: str | None = None, command: str = "mallcrm ml promote") -> str:
    """Point models/<model>/CURRENT at `version` (default: the newest), only if it passed its gate."""
    registry = Registry(settings.models_dir)
    with write_lock(settings, command):
        version = version or registry.versions(model)[-1]
        if not registry.get(model, version).metrics["gate"]["passed"]:
            raise ModelNotPromoted(f"{model} {version} did not pass its gate; not promoted")
        registry.promote(model, version)
        return version


def score(settings: Settings, models: list[str] | None = None, command: str = "mallcrm ml score") -> list[ScoreResult]:
    """Score with the promoted version of each model into ml_scores.<table>; a model with
    no promoted version is skipped (its result says so)."""
    registry = Registry(settings.models_dir)
    out = []
    with write_lock(settings, command):
        for name in models or ml_models.MODEL_NAMES:
            spec = ml_models.get(name)
            if registry.current(name) is None:
                out.append(ScoreResult(name, spec.score_relation, 0, None))
                continue
            frame = spec.score(settings, registry)
            write_scores(settings, spec.score_table, frame)
            version = str(frame["model_version"].iloc[0]) if len(frame) else registry.current(name).version
            out.append(ScoreResult(name, spec.score_relation, len(frame), version, frame))
    return out


def complaint_root_causes(settings: Settings, command: str = "mallcrm ml complaint-root-causes") -> int:
    """Root cause and terms of every complaint, from its scrubbed text only, into
    ml_scores.complaint_root_causes (replaced whole in one transaction, so a re-run after a
    killed one is safe); returns the rows written. refresh_after_scoring rebuilds the mart."""
    with write_lock(settings, command):
        frame = complaint_topics.score_root_causes(settings)
        write_scores(settings, complaint_topics.SCORE_TABLE, frame)
    return len(frame)


def refresh_after_scoring(settings: Settings, quiet: bool = True, progress: bool = False) -> DbtResult:
    """Rebuild member 360 and what reads it, so the marts show the new scores."""
    return build(
        settings, ["--select", AFTER_SCORING], quiet=quiet, command="mallcrm build after scoring", progress=progress
    )


@dataclass
class Publication:
    bi_copy: BiCopy
    role_files: dict[str, RoleFile]


def publish_bi(settings: Settings) -> BiCopy:
    """The marts in a DuckDB 1.4-storage file for BI tools."""
    with write_lock(settings, "mallcrm publish-bi"):
        return publish_bi_copy(settings)


def publish_roles(settings: Settings) -> dict[str, RoleFile]:
    """One DuckDB file per role with only what privacy/policy.yml lets the role see."""
    with write_lock(settings, "mallcrm publish-roles"):
        return publish_role_files(settings)


def publish(settings: Settings) -> Publication:
    """Both publications, as the demo and the daily run write them."""
    with write_lock(settings, "mallcrm publish"):
        return Publication(publish_bi_copy(settings), publish_role_files(settings))


def audiences_build(
    settings: Settings,
    run_date: date | None = None,
    names: list[str] | None = None,
    command: str = "mallcrm audiences build",
) -> list[RunSummary]:
    """Build every due audience: definition (dbt model) -> gates -> holdout -> ledger."""
    with write_lock(settings, command):
        return build_audiences(settings, run_date, names)


def audiences_export(
    settings: Settings,
    run_date: date | None = None,
    contacts: bool = False,
    names: list[str] | None = None,
    command: str = "mallcrm audiences export",
) -> list[ExportSummary]:
    """Check every gate again and write the built audiences' files into the outbox
    (ExportRefused when a run fails a check; the others are exported)."""
    with write_lock(settings, command):
        return export_audiences(settings, run_date, contacts, names)


def audiences_deliver(settings: Settings, run_dates: list[date]) -> list[DeliveryReport]:
    """Load the exports of `run_dates` into the PostgreSQL table a marketing tool reads
    (dlt; re-delivering replaces, never duplicates). Reads the outbox only: no lock."""
    reports = []
    for run_date in sorted(set(run_dates)):
        manifest = export_dir(settings, run_date) / "manifest.json"
        if manifest.exists():
            reports.append(deliver(settings, manifest))
    return reports


def purge(
    settings: Settings, as_of: date | None = None, dry_run: bool = False, rebuild: bool = True
) -> retention.PurgeResult:
    """Apply privacy/policy.yml's retention periods (a dry run only counts)."""
    with write_lock(settings, "mallcrm privacy purge"):
        # On Spark the rebuild must wait until the lake has lost the rows: _remove_from_spark.
        result = retention.purge(
            settings, as_of=as_of, dry_run=dry_run, rebuild=rebuild and settings.engine == "duckdb"
        )
        if not dry_run and rebuild:
            _remove_from_spark(settings)
        before = outbox.export_folders(settings)
        expired = outbox.purge_expired(settings, result.as_of, dry_run=dry_run)  # the same day as the tables
        result.tables["outbox: audience export folders"] = {
            "expiry": "delete",
            "expired": len(expired),
            "rows_before": len(before),
            "rows_after": len(before) - len(expired),
        }
        return result


def process_requests(settings: Settings) -> tuple[list[dict[str, Any]], list[str]]:
    """Act on the data-subject requests waiting in the requests inbox: (processed, problems)."""
    with write_lock(settings, "mallcrm privacy requests --process"):
        outcome = privacy_requests.process_inbox(settings)
        _remove_from_spark(settings)
        outbox.redact_erased(settings)  # the erased leave the outbox's export files too
        return outcome


SPARK_REBUILD_PENDING = "spark_rebuild_pending"


def _remove_from_spark(settings: Settings) -> None:
    """Engine spark: what an erasure or a retention purge removed from the warehouse file
    leaves the lake and every table Spark derived from it, and the publications.

    The raw tables of the warehouse file are the ledger the privacy operations act on
    (privacy/erasure.py, privacy/retention.py). Here the lake is synced with them: each
    load that lost rows is rewritten (ingestion/lake.py); the ML score tables and the
    activation ledger are written to the lake again from the warehouse's; then everything
    on Spark is rebuilt in full and the BI copy and role files republished from it. A marker file makes this crash-safe:
    written before the sync and removed after the rebuild, so a run killed in between is
    finished by the next privacy command even when the lake is already in line."""
    if settings.engine != "spark":
        return
    marker = settings.privacy_path / SPARK_REBUILD_PENDING
    sync = publish_raw(settings)
    if not sync.changed_tables and not marker.exists():
        return
    write_atomically(marker, "the lake lost rows; Spark's tables are rebuilt from it\n")
    republish_scores(settings)
    ledger.republish(settings)
    rebuilt = run_dbt(["build", "--full-refresh"], settings, quiet=True)
    if not rebuilt:
        raise RuntimeError(f"rebuilding Spark after a privacy operation failed: {rebuilt.failed[:5]}; run it again")
    publish_spark_views(settings)
    publish_bi_copy(settings)
    publish_role_files(settings)
    marker.unlink()


def publish_postgres(settings: Settings) -> PostgresPublication:
    """The marts into PostgreSQL for BI tools, with a role per policy role, GRANTs, row
    security, comments and metric views (serving/publish.py). Holds the write lock: it reads
    the warehouse throughout and records an audit entry."""
    with write_lock(settings, "mallcrm publish-postgres"):
        return serving_publish.publish_postgres(settings)
