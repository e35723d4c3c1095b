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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import dlt
import duckdb
import pyarrow as pa
from dlt.extract.source import DltSource

from ingestion.contracts import Contract, ExportFormat, InboxFile, load_contract, match_file
from ingestion.parsing import QUARANTINE_SCHEMA, ParsedFile, parse_file

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


def already_ingested(warehouse: Path, dataset: str) -> dict[str, str]:
    """(file -> sha256) of files this dataset has recorded, loaded or not."""
    if not warehouse.exists():
        return {}
    con = duckdb.connect(str(warehouse), read_only=True)
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


def scan_inbox(inbox: Path, contract: Contract, log: IngestLog | None = None) -> list[InboxFile]:
    """Every file in the inbox that fits the contract, oldest business day first."""
    found: list[InboxFile] = []
    if not inbox.exists():
        return found
    for path in sorted(p for p in inbox.rglob("*") if p.is_file() and not p.name.startswith(".")):
        matched = match_file(inbox, path, contract)
        if isinstance(matched, str):
            if log is not None:
                log.unmatched.append(matched)
            continue
        found.append(matched)
    return sorted(found, key=lambda f: (f.business_date, f.relpath))


def _file_record(parsed: ParsedFile | None, file: InboxFile, sha: str, loaded_at: datetime, **over) -> dict:
    record = {
        "source_file": file.relpath,
        "sha256": sha,
        "system": file.export.system,
        "entity": file.export.entity,
        "business_date": file.business_date,
        "size_bytes": file.path.stat().st_size,
        "encoding": parsed.encoding if parsed else None,
        "rows_in_file": parsed.rows_in_file if parsed else 0,
        "rows_loaded": parsed.rows_loaded if parsed else 0,
        "rows_quarantined": parsed.rows_quarantined if parsed else 0,
        "status": parsed.status if parsed else "loaded",
        "reason": parsed.reason if parsed else None,
        "loaded_at": loaded_at,
    }
    record.update(over)
    return record


def entity_files(
    export: ExportFormat,
    inbox: Path,
    seen: dict[str, str],
    log: IngestLog,
    loaded_at: datetime,
) -> Iterator:
    """Yield Arrow tables for every new file of one entity (rows, quarantine, file record)."""
    contract = load_contract()
    seen_shas = {sha: name for name, sha in seen.items()}
    for file in scan_inbox(inbox, contract):
        if (file.export.system, file.export.entity) != (export.system, export.entity):
            continue
        sha = sha256_of(file.path)
        if seen.get(file.relpath) == sha:
            continue  # loaded before: re-runs never duplicate
        if file.relpath in seen:
            parsed = parse_file(file, loaded_at)
            reason = (
                f"{file.relpath} was already loaded with other content (sha256 {seen[file.relpath][:12]}...); "
                "send corrections as a new file, e.g. <entity>_<day>_v2"
            )
            record = _file_record(parsed, file, sha, loaded_at, status="refused", reason=reason,
                                  rows_loaded=0, rows_quarantined=parsed.rows_in_file)
        elif sha in seen_shas:
            reason = f"same bytes as {seen_shas[sha]}, which is already loaded"
            parsed = parse_file(file, loaded_at)
            record = _file_record(parsed, file, sha, loaded_at, status="duplicate", reason=reason,
                                  rows_loaded=0, rows_quarantined=parsed.rows_in_file)
        else:
            parsed = parse_file(file, loaded_at)
            record = _file_record(parsed, file, sha, loaded_at)
            if parsed.rows is not None and parsed.rows.num_rows:
                yield parsed.rows
            if parsed.quarantine.num_rows:
                yield dlt.mark.with_table_name(
                    parsed.quarantine.append_column(
                        "quarantined_at", pa.array([loaded_at] * parsed.quarantine.num_rows, pa.timestamp("us", tz="UTC"))
                    ),
                    QUARANTINE_TABLE,
                )
        seen[file.relpath] = sha
        seen_shas.setdefault(sha, file.relpath)
        log.add(record)
        yield dlt.mark.with_table_name(pa.Table.from_pylist([record], schema=FILES_SCHEMA), FILES_TABLE)


def system_source(
    system: str,
    inbox_fn: Callable[[], Path],
    warehouse_fn: Callable[[], Path],
    log: IngestLog | None = None,
) -> DltSource:
    """The dlt source of one source system. Paths are read when the run starts."""
    contract = load_contract()
    exports = contract.for_system(system)
    dataset = contract.dataset(system)
    run_log = log if log is not None else IngestLog()

    def make_resource(export: ExportFormat):
        def files() -> Iterator:
            loaded_at = datetime.now(UTC).replace(microsecond=0)
            seen = already_ingested(warehouse_fn(), dataset)
            yield from entity_files(export, inbox_fn(), seen, run_log, loaded_at)

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
