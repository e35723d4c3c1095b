"""dlt sources: one per source system, one resource per export entity.

Each resource finds the entity's new files in the inbox, parses them (ingestion.parsing)
and yields Arrow tables: the rows to `<entity>`, the rejected rows to `quarantined_rows`
and one record per file to `ingested_files` — all in the same load package, so the
bookkeeping commits together with the data it describes.

"New" means: (file name, sha256) not yet in the dataset's `ingested_files`. A file
already loaded is skipped; a late file for an old day is loaded like any other; the
same bytes under another name are recorded as a duplicate and not loaded twice.

Only complete files are read (`completeness:` in the contract): a file still being
written is left for a later run and listed as waiting. A file whose content changed
after it was loaded (it grew, or was rewritten) is a correction of itself: its whole new
content is loaded again, as a later load, and staging keeps the rows of the latest load
of a file (then of the highest `_vN`), so no row of the final file is lost. A file whose
name or folder fits no export of the contract is never read and is listed as unmatched
(`mallcrm ingest` exits 3, `mallcrm doctor` names it).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dlt
import pyarrow as pa
from dlt.extract.source import DltSource

from ingestion.parsing import FileOutcome, batches, count_lines, parse_batch
from mallcrm.core.contract import ExportFormat, InboxFile, load_contract
from mallcrm.core.inbox import InboxLog, incomplete_reason, scan_inbox
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
class IngestLog(InboxLog):
    """What a run did, file by file; filled while dlt extracts. (Its `unmatched` and
    `waiting` lists are filled by the inbox scan, mallcrm.core.inbox.)"""

    files: list[dict] = field(default_factory=list)

    def add(self, record: dict) -> None:
        self.files.append(record)


@dataclass
class Seen:
    """What a dataset's `ingested_files` already holds."""

    latest: dict[str, str] = field(default_factory=dict)  # file -> sha256 of its latest record
    by_sha: dict[str, str] = field(default_factory=dict)  # sha256 -> first file recorded with it
    last_loaded_at: datetime | None = None


def load_time(seen: Seen) -> datetime:
    """This load's `loaded_at` (whole seconds): now, but always after the dataset's last
    load, so that staging's "latest load wins" orders a quick correction after its original."""
    now = datetime.now(UTC).replace(microsecond=0)
    last = seen.last_loaded_at
    if last is not None and now <= last < now + timedelta(minutes=1):
        return last + timedelta(seconds=1)
    return now


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def already_ingested(settings: Settings, dataset: str) -> Seen:
    """The files this dataset has recorded, loaded or not: each file's latest content
    (by load order) and, per content, the first file that had it."""
    seen = Seen()
    if not settings.warehouse.exists():
        return seen
    con = connect(settings)
    try:
        exists = con.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
            [dataset, FILES_TABLE],
        ).fetchone()[0]
        if not exists:
            return seen
        rows = con.execute(
            f'select source_file, sha256, loaded_at from "{dataset}".{FILES_TABLE} order by loaded_at, _dlt_load_id'
        ).fetchall()
    finally:
        con.close()
    for name, sha, loaded_at in rows:
        seen.latest[name] = sha  # later records overwrite earlier ones
        seen.by_sha.setdefault(sha, name)
        seen.last_loaded_at = loaded_at
    return seen


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
    seen: Seen,
    log: IngestLog,
    loaded_at: datetime,
) -> Iterator:
    """Yield Arrow tables for every new or changed complete file of one entity
    (rows, quarantine, file records)."""
    fresh: list[tuple[InboxFile, str]] = []
    corrections: dict[str, str] = {}  # file -> sha256 of the content it replaces
    whole_file: list[tuple[FileOutcome, str]] = []
    inbox = settings.inbox
    for file in scan_inbox(inbox / export.system, load_contract(), base=inbox):
        if file.export.entity != export.entity or file.relpath in log.waiting_files:
            continue
        reason = incomplete_reason(file)
        if reason is not None:  # still being written: not read, loaded by a later run
            log.wait(file, reason)
            continue
        sha = sha256_of(file.path)
        previous = seen.latest.get(file.relpath)
        if previous == sha:
            continue  # loaded before: re-runs never duplicate
        first = seen.by_sha.get(sha)
        n = count_lines(file) if first is not None and first != file.relpath else 0
        if n > 0:  # header-only files of quiet days are alike, not duplicates
            # Nothing of it is stored: not loaded, not quarantined (the other file holds the rows).
            reason = f"same bytes as {first}, which is already loaded"
            whole_file.append((FileOutcome(file, "unknown", n, 0, 0, "duplicate", reason), sha))
        else:
            fresh.append((file, sha))
            if previous is not None:
                corrections[file.relpath] = previous
        seen.by_sha.setdefault(sha, file.relpath)

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
            if r["source_file"] in corrections:
                note = (
                    f"correction: the file changed after it was loaded (earlier content sha256 "
                    f"{corrections[r['source_file']][:12]}...); this load supersedes its earlier rows"
                )
                r["reason"] = f"{note}; {r['reason']}" if r["reason"] else note
                r["correction_of"] = corrections[r["source_file"]]  # not a column: for the run's report
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
            seen = already_ingested(settings, dataset)
            loaded_at = load_time(seen)
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
