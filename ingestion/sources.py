"""dlt sources: one per source system, one resource per export entity.

Each resource finds the entity's new files in the inbox, parses them (ingestion.parsing)
and yields Arrow tables: the rows to `<entity>`, the rejected rows to `quarantined_rows`
and one record per file to `ingested_files` — all in the same load package, so the
bookkeeping commits together with the data it describes.

"New" means: (file name, sha256) not yet in the dataset's `ingested_files`. A file
already loaded is skipped; a late file for an old day is loaded like any other; the
same bytes under another name are recorded as a duplicate and not loaded twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import dlt
import pyarrow as pa
from dlt.extract.source import DltSource

from ingestion.parsing import FileOutcome, batches, count_lines, parse_batch
from mallcrm.core.contract import Contract, ExportFormat, InboxFile, load_contract, match_file
from mallcrm.core.settings import Settings
from mallcrm.core.warehouse import connect
from privacy.suppression import SUPPRESSED_TABLE, suppress_erased

FILES_TABLE = "ingested_files"
QUARANTINE_TABLE = "quarantined_rows"

FILES_SCHEMA = pa.schema(
    [
        ("source_file", pa.string()),
        ("sha256", pa.string()),
        ("system", pa.string()),
        ("entity", pa.string()),
        ("business_date", pa.date32()),
        ("size_bytes", pa.int64()),
        ("encoding", pa.string()),
        ("rows_in_file", pa.int64()),
        ("rows_loaded", pa.int64()),
        ("rows_quarantined", pa.int64()),
        ("status", pa.string()),
        ("reason", pa.string()),
        ("loaded_at", pa.timestamp("us", tz="UTC")),
    ]
)


@dataclass
class IngestLog:
    """What a run did, file by file; filled while dlt extracts."""

    files: list[dict] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)

    def add(self, record: dict) -> None:
        self.files.append(record)


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def already_ingested(settings: Settings, dataset: str) -> dict[str, str]:
    """(file -> sha256) of files this dataset has recorded, loaded or not."""
    if not settings.warehouse.exists():
        return {}
    con = connect(settings)
    try:
        exists = con.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
            [dataset, FILES_TABLE],
        ).fetchone()[0]
        if not exists:
            return {}
        return dict(con.execute(f'select source_file, sha256 from "{dataset}".{FILES_TABLE}').fetchall())
    finally:
        con.close()


def scan_inbox(
    folder: Path, contract: Contract, log: IngestLog | None = None, base: Path | None = None
) -> list[InboxFile]:
    """Every file under `folder` that fits the contract, oldest business day first.
    File names are taken relative to `base` (the inbox; default: `folder` itself)."""
    base = base or folder
    found: list[InboxFile] = []
    if not folder.exists():
        return found
    root = base.resolve()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")):
        if not path.resolve().is_relative_to(root):
            # a link out of the inbox (e.g. to /etc/passwd) is never read
            if log is not None:
                log.unmatched.append(f"{path.relative_to(base).as_posix()}: resolves outside the inbox; not read")
            continue
        matched = match_file(base, path, contract)
        if isinstance(matched, str):
            if log is not None:
                log.unmatched.append(matched)
            continue
        found.append(matched)
    return sorted(found, key=lambda f: (f.business_date, f.relpath))


def _file_record(outcome: FileOutcome, sha: str, loaded_at: datetime) -> dict:
    file = outcome.file
    return {
        "source_file": file.relpath,
        "sha256": sha,
        "system": file.export.system,
        "entity": file.export.entity,
        "business_date": file.business_date,
        "size_bytes": file.path.stat().st_size,
        "encoding": outcome.encoding,
        "rows_in_file": outcome.rows_in_file,
        "rows_loaded": outcome.rows_loaded,
        "rows_quarantined": outcome.rows_quarantined,
        "status": outcome.status,
        "reason": outcome.reason,
        "loaded_at": loaded_at,
        # not a column of ingested_files: counted in raw_<system>.suppressed_rows (privacy/suppression.py)
        "rows_suppressed": getattr(outcome, "rows_suppressed", 0),
    }


def _with_quarantined_at(quarantine: pa.Table, loaded_at: datetime) -> pa.Table:
    stamp = pa.array([loaded_at] * quarantine.num_rows, pa.timestamp("us", tz="UTC"))
    return quarantine.append_column("quarantined_at", stamp)


def entity_files(
    export: ExportFormat,
    settings: Settings,
    seen: dict[str, str],
    log: IngestLog,
    loaded_at: datetime,
) -> Iterator:
    """Yield Arrow tables for every new file of one entity (rows, quarantine, file records)."""
    seen_shas = {sha: name for name, sha in seen.items()}
    fresh: list[tuple[InboxFile, str]] = []
    whole_file: list[tuple[FileOutcome, str]] = []
    inbox = settings.inbox
    for file in scan_inbox(inbox / export.system, load_contract(), base=inbox):
        if file.export.entity != export.entity:
            continue
        sha = sha256_of(file.path)
        if seen.get(file.relpath) == sha:
            continue  # loaded before: re-runs never duplicate
        n = count_lines(file)
        if file.relpath in seen:
            reason = (
                f"{file.relpath} was already loaded with other content (sha256 {seen[file.relpath][:12]}...); "
                "send corrections as a new file, e.g. <entity>_<day>_v2"
            )
            whole_file.append((FileOutcome(file, "unknown", n, 0, n, "refused", reason), sha))
        elif sha in seen_shas and n > 0:  # header-only files of quiet days are alike, not duplicates
            reason = f"same bytes as {seen_shas[sha]}, which is already loaded"
            whole_file.append((FileOutcome(file, "unknown", n, 0, n, "duplicate", reason), sha))
        else:
            fresh.append((file, sha))
        seen_shas.setdefault(sha, file.relpath)

    shas = dict((f.relpath, sha) for f, sha in fresh)
    for batch in batches([f for f, _ in fresh]):
        parsed = parse_batch(batch, loaded_at, settings.timezone)
        parsed, suppressed = suppress_erased(parsed, export, loaded_at, settings)  # erased people
        if suppressed is not None:
            yield dlt.mark.with_table_name(suppressed, SUPPRESSED_TABLE)
        if parsed.rows is not None and parsed.rows.num_rows:
            yield parsed.rows
        # Yielded even when empty, so the quarantine table exists from the first load on.
        yield dlt.mark.with_table_name(_with_quarantined_at(parsed.quarantine, loaded_at), QUARANTINE_TABLE)
        records = [_file_record(o, shas[o.file.relpath], loaded_at) for o in parsed.outcomes]
        for r in records:
            log.add(r)
        yield dlt.mark.with_table_name(pa.Table.from_pylist(records, schema=FILES_SCHEMA), FILES_TABLE)
    if whole_file:
        records = [_file_record(o, sha, loaded_at) for o, sha in whole_file]
        for r in records:
            log.add(r)
        yield dlt.mark.with_table_name(pa.Table.from_pylist(records, schema=FILES_SCHEMA), FILES_TABLE)


def system_source(system: str, settings: Settings, log: IngestLog | None = None) -> DltSource:
    """The dlt source of one source system."""
    contract = load_contract()
    exports = contract.for_system(system)
    dataset = contract.dataset(system)
    run_log = log if log is not None else IngestLog()

    def make_resource(export: ExportFormat):
        def files() -> Iterator:
            loaded_at = datetime.now(UTC).replace(microsecond=0)
            seen = already_ingested(settings, dataset)
            yield from entity_files(export, settings, seen, run_log, loaded_at)

        return dlt.resource(
            files,
            name=export.entity,
            write_disposition="append",
            schema_contract={"columns": "freeze"} if export.freeze_columns else None,
        )

    @dlt.source(name=system, max_table_nesting=0, root_key=False)
    def source():
        return [make_resource(e) for e in exports]

    return source()
