"""dlt sources: one per source system, one resource per export entity.

Each resource finds the entity's new files in the inbox, parses them (ingestion.parsing)
and yields Arrow tables: the rows to `<entity>`, the rejected rows to `quarantined_rows`
and one record per file to `ingested_files` — all in the same load package, so the
bookkeeping commits together with the data it describes.

"New" means: (file name, sha256) not yet in the dataset's `ingested_files`. A file
already loaded is skipped; a late file for an old day is loaded like any other; the
same bytes under another name are recorded as a duplicate and not loaded twice. A file
whose size and modification time are those an earlier run hashed, with that hash in the
ledger, is not read again (FileHashes); any other file is hashed.

The inbox is scanned once per run (ingestion.pipeline.run_ingestion) and the ledger read
once per system; each entity's new files are parsed in one read and yielded as one Arrow
table of rows, one of quarantined rows and one of file records.

Only complete files are read (`completeness:` in the contract): a file still being
written is left for a later run and listed as waiting. A file whose content changed
after it was loaded (it grew, or was rewritten) is a correction of itself: its whole new
content is loaded again, as a later load, and staging keeps the rows of the latest load
of a file (then of the highest `_vN`), so no row of the final file is lost. A file whose
name or folder fits no export of the contract is never read and is listed as unmatched
(`mallcrm ingest` exits 3, `mallcrm doctor` names it).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dlt
import pyarrow as pa
from dlt.extract.source import DltSource

from ingestion.parsing import FileOutcome, batches, count_lines, parse_batch
from mallcrm.core.contract import ExportFormat, InboxFile, load_contract
from mallcrm.core.files import sha256_of, write_atomically
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


# sha256 of inbox files by size and modification time, beside dlt's state (FileHashes)
HASHES_FILE = "inbox_sha256.json"


@dataclass
class FileHashes:
    """The sha256 of inbox files as earlier runs computed them, by (size, mtime in ns).

    A daily run would otherwise read every file of the inbox again (a year of history) to
    find the day's few new ones. A file is not read again only when its size and
    modification time are those recorded with a sha256 AND the ledger (`ingested_files`)
    holds that sha256 as the file's latest content: the ledger stays the truth, this cache
    only says which content a file still has. A file rewritten since (a correction, a file
    that grew) has another size or modification time, is hashed again and loaded as a
    correction of itself. Kept in `<dlt_dir>/inbox_sha256.json` (file names and hashes only,
    like the ledger); a missing, unreadable or other inbox's cache means hashing everything.
    The size and time are taken before the file is read, so a change during the read is
    seen by the next run."""

    path: Path
    inbox: str
    known: dict[str, list] = field(default_factory=dict)  # relpath -> [size, mtime_ns, sha256]
    now: dict[str, list] = field(default_factory=dict)  # this run's entries
    hashed: int = 0
    skipped: int = 0

    @classmethod
    def load(cls, settings: Settings) -> FileHashes:
        path = settings.dlt_dir / HASHES_FILE
        inbox = str(settings.inbox.resolve())
        known: dict[str, list] = {}
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(raw, dict) and raw.get("inbox") == inbox and isinstance(raw.get("files"), dict):
                known = raw["files"]
        except (OSError, ValueError):
            pass
        return cls(path, inbox, known)

    def sha256(self, file: InboxFile, unchanged_from: str | None = None) -> str:
        """The file's sha256; read from the cache only when size and mtime match and the
        ledger's latest record of the file (`unchanged_from`) has that very sha256."""
        st = file.path.stat()  # before reading: a change during the read shows next time
        key = [st.st_size, st.st_mtime_ns]
        cached = self.known.get(file.relpath)
        if (
            unchanged_from is not None
            and isinstance(cached, list)
            and len(cached) == 3
            and cached[:2] == key
            and cached[2] == unchanged_from
        ):
            self.now[file.relpath] = cached
            self.skipped += 1
            return unchanged_from
        sha = sha256_of(file.path)
        self.now[file.relpath] = [*key, sha]
        self.hashed += 1
        return sha

    def save(self, inbox: Path) -> None:
        """Write the cache (atomically): this run's entries, and earlier ones of files still
        in the inbox that this run did not look at (another system, still waiting)."""
        files = {
            name: entry
            for name, entry in {**self.known, **self.now}.items()
            if name in self.now or (inbox / name).is_file()
        }
        write_atomically(self.path, json.dumps({"inbox": self.inbox, "files": files}))


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
    stamp = pa.repeat(pa.scalar(loaded_at, pa.timestamp("us", tz="UTC")), quarantine.num_rows)
    return quarantine.append_column("quarantined_at", stamp)


def entity_files(
    export: ExportFormat,
    settings: Settings,
    seen: Seen,
    log: IngestLog,
    loaded_at: datetime,
    files: list[InboxFile] | None = None,
    hashes: FileHashes | None = None,
) -> Iterator:
    """Yield Arrow tables for every new or changed complete file of one entity
    (rows, quarantine, file records): one parse of all its new files (bounded by
    parsing.BATCH_BYTES), so one table of each kind per entity in the common case.

    `files`: the entity's files from the run's one inbox scan (default: scan the system's
    folder). `hashes`: the size+mtime cache of earlier runs' sha256 (see FileHashes)."""
    if files is None:
        found = scan_inbox(settings.inbox / export.system, load_contract(), base=settings.inbox)
        files = [f for f in found if f.export.entity == export.entity]
    fresh: list[tuple[InboxFile, str]] = []
    corrections: dict[str, str] = {}  # file -> sha256 of the content it replaces
    whole_file: list[tuple[FileOutcome, str]] = []
    for file in files:
        if file.relpath in log.waiting_files:
            continue
        reason = incomplete_reason(file)
        if reason is not None:  # still being written: not read, loaded by a later run
            log.wait(file, reason)
            continue
        previous = seen.latest.get(file.relpath)
        if hashes is not None:
            sha = hashes.sha256(file, unchanged_from=previous)
        else:
            sha = sha256_of(file.path)
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


def column_contract(export: ExportFormat, stored: set[str] | None) -> dict | None:
    """dlt's column contract for an entity's raw table. A frozen system (personal data)
    never gains a column the contract does not declare - the parser has already refused
    such files - but when the contract itself grew (a reviewed change) the stored table
    takes the new columns once, on the first load after the change; then it is frozen again."""
    if not export.freeze_columns:
        return None
    if stored is not None and not set(export.column_names) <= stored:
        return {"columns": "evolve"}
    return {"columns": "freeze"}


def system_source(
    system: str,
    settings: Settings,
    log: IngestLog | None = None,
    files: list[InboxFile] | None = None,
    hashes: FileHashes | None = None,
    stored_columns: dict[str, set[str]] | None = None,
) -> DltSource:
    """The dlt source of one source system.

    `files`: the system's complete files from the run's inbox scan (run_ingestion scans
    the inbox once); default: the source scans the system's folder itself, once.
    `hashes`: the run's size+mtime cache of sha256 (FileHashes), default none (hash all).
    `stored_columns`: the columns each raw table already has (dlt's stored schema), so a
    frozen system can take the columns a newer contract added (`column_contract`)."""
    contract = load_contract()
    exports = contract.for_system(system)
    dataset = contract.dataset(system)
    run_log = log if log is not None else IngestLog()
    shared: dict = {}

    def system_state() -> dict:
        """What every entity of the system shares, read once when extraction starts: the
        ledger, the load time and the system's files (one inbox scan, one ledger query)."""
        if not shared:
            seen = already_ingested(settings, dataset)
            shared["seen"], shared["loaded_at"] = seen, load_time(seen)
            found = files
            if found is None:
                found = scan_inbox(settings.inbox / system, contract, base=settings.inbox)
            by_entity: dict[str, list[InboxFile]] = {}
            for f in found:
                by_entity.setdefault(f.export.entity, []).append(f)
            shared["files"] = by_entity
        return shared

    def make_resource(export: ExportFormat):
        def entity() -> Iterator:
            state = system_state()
            seen: Seen = state["seen"]
            # each entity sees the ledger as it was (a copy of the by-content index, as
            # when every entity queried the ledger itself)
            own = Seen(latest=seen.latest, by_sha=dict(seen.by_sha), last_loaded_at=seen.last_loaded_at)
            yield from entity_files(
                export, settings, own, run_log, state["loaded_at"], state["files"].get(export.entity, []), hashes
            )

        return dlt.resource(
            entity,
            name=export.entity,
            write_disposition="append",
            schema_contract=column_contract(export, (stored_columns or {}).get(export.entity)),
        )

    @dlt.source(name=system, max_table_nesting=0, root_key=False)
    def source():
        return [make_resource(e) for e in exports]

    return source()
