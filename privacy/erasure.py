"""Erasure: remove one person from every copy the project holds, as a journaled job.

    from privacy.erasure import erase
    result = erase(settings, {"mobile": {"13812345678"}}, request_id="R-2026-001")

The job (privacy/journal.py) records its intent before it removes anything, and each step
once done; a run killed at any point is finished by running it again (`mallcrm privacy
requests --process` re-runs the request, whose file stays in the inbox until it is done).

intent   Resolve the person: every version of `raw_membership.members` whose member_id,
         card number, mobile or e-mail matches (normalized as privacy/patterns.py does)
         gives the member_ids and every value they ever had; their receipts
         (`raw_pos.transactions` by card number or mobile) give the transaction_ids. Count
         what the warehouse holds about them, per table (the evidence, counted before any
         row goes). All of it goes into the journal first, so a re-run after the deletes
         still knows whom to erase. Nothing found anywhere: the answer is "no data held".
suppress The person's identifiers go onto the suppression list (privacy/suppression.py,
         under its own key, checked before anything else), so a re-sent export cannot
         bring them back even if the job dies right after the deletes. An unknown
         identifier is suppressed only when the request asks for it.
delete   In every base table of the warehouse (raw_*, masked, intermediate, marts incl.
         incremental facts, ml_features, ml_scores, snapshots; views follow), found by
         column name, in SQL: member_id / *_member_id -> delete the row
         (referrer_member_id -> NULL: the referrer is someone else); transaction_id of
         one of their receipts -> delete (receipt lines, points, coupon uses: so no line
         is left without its receipt); card_no, mobile, e-mail and their POS forms ->
         delete rows whose normalized value matches; *_token -> delete rows with the
         person's token; quarantined raw records naming them -> delete.
redact   Free text (complaint and survey text in every layer, scrubbed or not) that names
         the person — their mobile, e-mail or card number in any written form, or their
         name — is redacted in place (privacy.patterns.redact): other people's
         complaints stay, without this person in them.
files    Leftovers outside the tables: dlt load packages and run traces are deleted, an
         earlier access export of the person is deleted, text files under the warehouse
         directory and dlt's folder (logs, traces) have the values replaced; model
         registry files holding the person are listed for a look.
compact  DELETE leaves old bytes in DuckDB's file: the database is copied into a new file
         that replaces the old one atomically.
publish  The BI copy and the role files that exist are published again from the erased
         marts.
verify   Nothing about the person is left in any table: the job is done only then.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from mallcrm.core.settings import Settings
from mallcrm.core.warehouse import connect, relation_exists
from privacy import audit, journal, patterns
from privacy.bi_copy import bi_copy_path, publish_bi_copy
from privacy.policy import load_policy
from privacy.publish import publish_role_files, role_file_path
from privacy.suppression import add as add_suppression
from privacy.suppression import check_key as check_suppression_key
from privacy.tokens import TokenKey, load_key, normalize, token

MEMBERS = "raw_membership.members"
RECEIPTS = "raw_pos.transactions"
WECHAT_IDENTITIES = "raw_digital.wechat_identities"
APP_EVENTS = "raw_digital.app_events"
# raw column names -> identifier type (the policy's pii_type)
RAW_IDENTIFIERS = {
    "card_no": "card_no",
    "member_card_no": "card_no",
    "mobile": "mobile",
    "member_mobile": "mobile",
    "email": "email",
    "openid": "wechat_id",
    "unionid": "wechat_id",
    "device_id": "device_id",
}
TOKEN_COLUMNS = {f"{name}_token": kind for name, kind in RAW_IDENTIFIERS.items()}
NULL_OUT_IDS = {"referrer_member_id"}
SKIP_SCHEMAS = {"information_schema", "pg_catalog"}
IDENTIFIER_KINDS = ("card_no", "mobile", "email")
QUARANTINE_TEXT = "raw_record"
ERASED = "[erased]"
TEXT_SUFFIXES = {".log", ".json", ".jsonl", ".csv", ".txt", ".md", ".html", ".yml", ".yaml", ".sql"}
ENCODINGS = ("utf-8", "gbk", "utf-16-le")


class ErasureIncomplete(RuntimeError):
    """The verification found the person still held somewhere: the job stays open."""


def normalized_sql(column: str, kind: str) -> str:
    """SQL twin of privacy.tokens.normalize (the `pii_normalization` rules of
    privacy/policy.yml, the same SQL the dbt macro `pii_normalize` is generated with)."""
    return patterns.normalize_sql(f"cast({column} as varchar)", kind, dialect="duckdb")


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _list(values) -> str:
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in sorted(values)) + "]"


def _in(expr: str, values) -> str:
    return f"{expr} in (select unnest({_list(values)}::varchar[]))"


@dataclass
class Person:
    member_ids: set[str] = field(default_factory=set)
    values: dict[str, set[str]] = field(default_factory=dict)  # kind -> raw values (incl. "name")
    transaction_ids: set[str] = field(default_factory=set)

    @property
    def normalized(self) -> dict[str, set[str]]:
        return {k: {n for v in vs if (n := normalize(v, k))} for k, vs in self.values.items() if k != "name"}

    @property
    def names(self) -> set[str]:
        return {n.strip() for n in self.values.get("name", set()) if n and len(n.strip()) >= 2}

    @property
    def found(self) -> bool:
        return bool(self.member_ids or any(self.values.values()))

    def to_json(self) -> dict[str, Any]:
        return {
            "member_ids": sorted(self.member_ids),
            "values": {k: sorted(v) for k, v in self.values.items()},
            "transaction_ids": sorted(self.transaction_ids),
        }

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Person:
        return cls(
            set(body.get("member_ids") or []),
            {k: set(v) for k, v in (body.get("values") or {}).items()},
            set(body.get("transaction_ids") or []),
        )


def _table_exists(con, qualified: str) -> bool:
    return relation_exists(con, qualified)


def resolve_person(con: duckdb.DuckDBPyConnection, identifiers: dict[str, set[str]]) -> Person:
    """Every member_id, identifier value and receipt the person ever had in the exports."""
    person = Person(values={k: {v for v in identifiers.get(k, set()) if v} for k in IDENTIFIER_KINDS})
    person.member_ids = {v.strip() for v in identifiers.get("member_id", set()) if v}
    person.values["name"] = set()
    if _table_exists(con, MEMBERS):
        conditions = [_in("trim(member_id)", person.member_ids)] if person.member_ids else []
        for kind, values in person.normalized.items():
            if values:
                conditions.append(_in(normalized_sql(kind, kind), values))
        if conditions:
            ids = con.execute(f"select distinct member_id from {MEMBERS} where {' or '.join(conditions)}").fetchall()
            person.member_ids |= {r[0] for r in ids if r[0]}
        if person.member_ids:
            rows = con.execute(
                f"select distinct name, mobile, email, card_no from {MEMBERS} "
                f"where {_in('member_id', person.member_ids)}"
            ).fetchall()
            for name, mobile, email, card_no in rows:
                for kind, value in (("name", name), ("mobile", mobile), ("email", email), ("card_no", card_no)):
                    if value:
                        person.values[kind].add(str(value))
    if person.member_ids:
        _online_identifiers(con, person)
    if _table_exists(con, RECEIPTS):
        normalized = person.normalized
        conditions = [
            _in(normalized_sql(column, kind), normalized[kind])
            for column, kind in (("member_card_no", "card_no"), ("member_mobile", "mobile"))
            if normalized.get(kind)
        ]
        if conditions:
            rows = con.execute(
                f"select distinct transaction_id from {RECEIPTS} where {' or '.join(conditions)}"
            ).fetchall()
            person.transaction_ids = {str(r[0]) for r in rows if r[0] is not None}
    return person


def _online_identifiers(con: duckdb.DuckDBPyConnection, person: Person) -> None:
    """The person's WeChat ids and app devices: those bound to their member ids, the openids
    linked to them only through their unionid (an official account never bound), and every
    device that logged in as them or under one of their openids - so the identity rows
    without a member id and the anonymous events of their phones go with the rest."""
    members = _in("member_id", person.member_ids)
    wechat: set[str] = set()
    if _table_exists(con, WECHAT_IDENTITIES):
        bound = con.execute(f"select openid, unionid from {WECHAT_IDENTITIES} where {members}").fetchall()
        unionids = {u for _, u in bound if u}
        wechat = {o for o, _ in bound if o} | unionids
        if unionids:
            linked = con.execute(f"select openid from {WECHAT_IDENTITIES} where {_in('unionid', unionids)}")
            wechat |= {r[0] for r in linked.fetchall() if r[0]}
    devices: set[str] = set()
    if _table_exists(con, APP_EVENTS):
        known = f"{members} or {_in('openid', wechat)}" if wechat else members
        rows = con.execute(f"select distinct device_id from {APP_EVENTS} where {known}").fetchall()
        devices = {r[0] for r in rows if r[0]}
    person.values.setdefault("wechat_id", set()).update(wechat)
    person.values.setdefault("device_id", set()).update(devices)


def base_tables(con) -> dict[str, list[str]]:
    rows = con.execute(
        """
        select c.table_schema, c.table_name, c.column_name
        from information_schema.columns c
        join information_schema.tables t using (table_catalog, table_schema, table_name)
        where t.table_type = 'BASE TABLE' and c.table_catalog = current_database()
        order by 1, 2, c.ordinal_position
        """
    ).fetchall()
    out: dict[str, list[str]] = {}
    for schema, table, column in rows:
        if schema not in SKIP_SCHEMAS:
            out.setdefault(f"{_q(schema)}.{_q(table)}", []).append(column)
    return out


def _tokens(person: Person, key: TokenKey) -> dict[str, set[str]]:
    return {k: {t for v in vs if (t := token(v, k, key))} for k, vs in person.values.items() if k != "name"}


def _conditions(columns: list[str], person: Person, tokens: dict[str, set[str]]) -> tuple[list[str], list[str]]:
    """(where clauses of rows about the person, id columns to null out) for one table."""
    deletes, nulls = [], []
    normalized = person.normalized
    for column in columns:
        col = _q(column)
        if column == "member_id" or column.endswith("_member_id"):
            if person.member_ids:
                target = nulls if column in NULL_OUT_IDS else deletes
                target.append(_in(f"cast({col} as varchar)", person.member_ids))
        elif column == "transaction_id" and person.transaction_ids:
            deletes.append(_in(f"cast({col} as varchar)", person.transaction_ids))
        elif column in RAW_IDENTIFIERS and normalized.get(RAW_IDENTIFIERS[column]):
            kind = RAW_IDENTIFIERS[column]
            deletes.append(_in(normalized_sql(col, kind), normalized[kind]))
        elif column in TOKEN_COLUMNS and tokens.get(TOKEN_COLUMNS[column]):
            deletes.append(_in(col, tokens[TOKEN_COLUMNS[column]]))
    return deletes, nulls


# --------------------------------------------------------------------------- free text


def free_text_columns(policy: dict | None = None) -> set[str]:
    """Column names free text goes by in any layer: the policy's free_text columns, their
    staging names and the `_scrubbed` forms of both (the quarantined raw record aside)."""
    policy = load_policy() if policy is None else policy
    out: set[str] = set()
    for spec in (policy.get("tables") or {}).values():
        for column, cspec in ((spec or {}).get("columns") or {}).items():
            cspec = cspec or {}
            if cspec.get("pii_type") == "free_text" and column != QUARANTINE_TEXT:
                for name in {column, cspec.get("staging_name") or column}:
                    out |= {name, f"{name}_scrubbed"}
    return out


def _text_hits(con, table: str, column: str, person: Person) -> list[tuple[int, str]]:
    """(rowid, redacted text) of the rows whose `column` names the person."""
    col = _q(column)
    prefilter = patterns.prefilter_sql(f"cast({col} as varchar)", person.normalized, person.names, dialect="duckdb")
    rows = con.execute(f"select rowid, cast({col} as varchar) from {table} where {col} is not null and {prefilter}")
    out = []
    for rid, text in rows.fetchall():
        redacted = patterns.redact(text, person.normalized, person.names)
        if redacted != text:
            out.append((rid, redacted))
    return out


def redact_free_text(con, person: Person, tables: dict[str, list[str]] | None = None) -> dict[str, int]:
    """Redact the person out of free text in place; quarantined raw records naming them
    are deleted. Returns rows changed per table.column. Only candidate rows (a SQL
    prefilter) are read into Python."""
    if not (person.names or any(person.normalized.values())):
        return {}
    tables = base_tables(con) if tables is None else tables
    text_columns = free_text_columns()
    out: dict[str, int] = {}
    for table, columns in tables.items():
        for column in columns:
            if column not in text_columns and column != QUARANTINE_TEXT:
                continue
            hits = _text_hits(con, table, column, person)
            if not hits:
                continue
            frame = pd.DataFrame(hits, columns=["rid", "redacted"])
            con.register("_erasure_redactions", frame)
            try:
                if column == QUARANTINE_TEXT:
                    con.execute(f"delete from {table} where rowid in (select rid from _erasure_redactions)")
                else:
                    con.execute(
                        f"update {table} set {_q(column)} = r.redacted from _erasure_redactions as r "
                        f"where {table}.rowid = r.rid"
                    )
            finally:
                con.unregister("_erasure_redactions")
            out[f"{table.replace(chr(34), '')}.{column}"] = len(hits)
    return out


# --------------------------------------------------------------------------- tables


def rows_held(con, person: Person, key: TokenKey) -> dict[str, int]:
    """Rows about the person per table (structured columns and free text naming them)."""
    tokens = _tokens(person, key)
    out: dict[str, int] = {}
    tables = base_tables(con)
    for table, columns in tables.items():
        deletes, nulls = _conditions(columns, person, tokens)
        if deletes or nulls:
            count = con.execute(f"select count(*) from {table} where {' or '.join(deletes + nulls)}").fetchall()[0][0]
            if count:
                out[table.replace('"', "")] = count
    if person.names or any(person.normalized.values()):
        text_columns = free_text_columns() | {QUARANTINE_TEXT}
        for table, columns in tables.items():
            for column in columns:
                if column in text_columns:
                    hits = len(_text_hits(con, table, column, person))
                    if hits:
                        label = f"{table.replace(chr(34), '')}.{column} (text)"
                        out[label] = hits
    return out


def erase_in_warehouse(con, person: Person, key: TokenKey) -> dict[str, dict[str, int]]:
    """Delete (or null out) every row about the person; returns counts per table."""
    tokens = _tokens(person, key)
    out: dict[str, dict[str, int]] = {}
    for table, columns in base_tables(con).items():
        deletes, nulls = _conditions(columns, person, tokens)
        if not deletes and not nulls:
            continue
        before = con.execute(f"select count(*) from {table}").fetchall()[0][0]
        nulled = 0
        for clause in nulls:
            column = clause.split(" as varchar")[0].removeprefix("cast(")
            nulled += con.execute(f"update {table} set {column} = null where {clause}").fetchall()[0][0]
        if deletes:
            con.execute(f"delete from {table} where {' or '.join(deletes)}")
        after = con.execute(f"select count(*) from {table}").fetchall()[0][0]
        if before != after or nulled:
            out[table.replace('"', "")] = {"before": before, "after": after, "nulled": nulled}
    return out


def compact(warehouse: Path) -> tuple[int, int]:
    """Rewrite the database into a new file (no deleted bytes survive) and swap it in."""
    before = warehouse.stat().st_size
    fresh = warehouse.with_name(warehouse.stem + ".compacting.duckdb")
    for leftover in (fresh, Path(f"{fresh}.wal")):
        leftover.unlink(missing_ok=True)
    con = duckdb.connect(str(warehouse))
    try:
        con.execute("checkpoint")
        name = con.execute("select current_database()").fetchall()[0][0]
        con.execute(f"attach '{fresh}' as compacted")
        con.execute(f"copy from database {_q(name)} to compacted")
        con.execute("detach compacted")
    finally:
        con.close()
    os.replace(fresh, warehouse)
    Path(f"{warehouse}.wal").unlink(missing_ok=True)
    return before, warehouse.stat().st_size


# --------------------------------------------------------------------------- files


def clean_dlt_dir(dlt_dir: Path) -> int:
    """Delete load packages and run traces (they may hold loaded rows); dlt keeps its
    state and schemas, which hold no rows. Completed packages are leftovers; a pending
    (extracted or normalized, not yet loaded) package would otherwise be loaded on the
    next run without passing the suppression list. It is safe to drop: the files'
    `ingested_files` records are in the same package, so those files count as new and are
    parsed again (and filtered) on the next ingest."""
    removed = 0
    if not dlt_dir.exists():
        return 0
    for pipeline in dlt_dir.iterdir():
        if not pipeline.is_dir():
            continue
        for stage in ("load/loaded", "load/new", "load/normalized", "normalize/extracted"):
            folder = pipeline / stage
            if folder.exists():
                for package in folder.iterdir():
                    if package.is_dir():
                        removed += sum(1 for p in package.rglob("*") if p.is_file())
                        shutil.rmtree(package)
        for trace in pipeline.glob("trace.pickle*"):
            trace.unlink()
            removed += 1
    return removed


def _encodings(needles: set[str]) -> dict[bytes, bytes]:
    """needle bytes -> replacement bytes, in each encoding the project writes or reads."""
    out = {}
    for needle in needles:
        for enc in ENCODINGS:
            try:
                out[needle.encode(enc)] = ERASED.encode(enc)
            except UnicodeEncodeError:
                pass
    return out


def files_holding(folder: Path, needles: set[str], skip: tuple[Path, ...] = ()) -> list[str]:
    """Files under `folder` whose bytes contain any needle (UTF-8, GBK or UTF-16)."""
    if not folder.exists() or not needles:
        return []
    encoded = list(_encodings(needles))
    out = []
    for path in folder.rglob("*"):
        if path.is_file() and not any(path.is_relative_to(s) for s in skip):
            data = path.read_bytes()
            if any(p in data for p in encoded):
                out.append(str(path))
    return sorted(out)


def scrub_text_files(folders: list[Path], needles: set[str], skip: tuple[Path, ...] = ()) -> list[str]:
    """Replace the needles in text files (logs, traces, exports) under `folders`, each file
    rewritten atomically; returns the files changed. DuckDB files are not touched here:
    they are erased, compacted or published again."""
    replacements = _encodings(needles)
    changed = []
    for folder in folders:
        if not folder.exists() or not replacements:
            continue
        for path in sorted(folder.rglob("*")):
            if (
                not path.is_file()
                or path.suffix.lower() not in TEXT_SUFFIXES
                or any(path.is_relative_to(s) for s in skip)
            ):
                continue
            data = path.read_bytes()
            if not any(needle in data for needle in replacements):
                continue
            for needle, replacement in replacements.items():
                data = data.replace(needle, replacement)
            temp = path.with_name(f".{path.name}.erasing")
            temp.write_bytes(data)
            os.replace(temp, path)
            changed.append(str(path))
    return changed


def republish(settings: Settings) -> list[str]:
    done = []
    if bi_copy_path(settings).exists():
        publish_bi_copy(settings)
        done.append("bi_copy")
    if (role_file_path(settings, "marketing")).parent.exists():
        publish_role_files(settings)
        done.append("role_files")
    return done


# --------------------------------------------------------------------------- the job


@dataclass
class ErasureResult:
    request_id: str
    member_count: int
    rows_held: dict[str, int]  # table (or table.column (text)) -> rows about the person, before
    tables: dict[str, dict[str, int]]  # table -> {before, after, nulled} of the run that deleted
    text_redacted: dict[str, int]
    suppressed_tokens: int
    dlt_files_removed: int
    files_scrubbed: list[str]
    model_files_holding_person: list[str]
    warehouse_bytes: tuple[int, int]
    republished: list[str]
    resumed: bool = False

    @property
    def data_held(self) -> bool:
        return bool(self.member_count or self.rows_held)

    @property
    def rows_removed(self) -> int:
        return sum(n for label, n in self.rows_held.items() if not label.endswith("(text)"))


def _needles(person: Person) -> set[str]:
    return set(person.member_ids) | {v for vs in person.values.values() for v in vs if v and len(v) >= 2}


def open_erasure(settings: Settings, identifiers: dict[str, set[str]], request_id: str) -> journal.Job:
    """The erasure job of `request_id`: a killed run's journal, or a new one whose intent
    (the person and the rows held about them) is written before anything is removed."""

    def intent() -> dict[str, Any]:
        con = connect(settings)
        try:
            person = resolve_person(con, identifiers)
            held = rows_held(con, person, load_key(settings))
        finally:
            con.close()
        return {"person": person.to_json(), "rows_held": held}

    return journal.open_job(settings, "erasure", request_id, intent)


def erase(
    settings: Settings,
    identifiers: dict[str, set[str]],
    request_id: str,
    suppress: bool | None = None,
    job: journal.Job | None = None,
) -> ErasureResult:
    """Erase one person everywhere (see module docstring), resuming a killed run.

    `suppress`: None = suppress when the person is a member or data was held about them;
    True = always (the request asks); False = never. The caller finishes the job
    (`job.finish()`) once it has recorded the outcome; `erase` does so when it opened it."""
    # before anything: without a usable suppression key the person could not be kept out later
    suppression_key = check_suppression_key(settings)
    owned = job is None
    job = job or open_erasure(settings, identifiers, request_id)
    person = Person.from_json(job.intent["person"])
    held: dict[str, int] = job.intent["rows_held"]
    data_held = bool(person.member_ids or held)
    if suppress is None:
        suppress = data_held

    if not job.done("suppress"):
        values = {k: v for k, v in person.values.items() if k != "name"}
        added = add_suppression(settings, {"member_id": person.member_ids, **values}, request_id) if suppress else 0
        job.mark("suppress", tokens_added=added, suppressed=suppress)
    if not job.done("delete"):
        con = connect(settings)
        try:
            tables = erase_in_warehouse(con, person, load_key(settings)) if data_held else {}
            redacted = redact_free_text(con, person) if data_held else {}
        finally:
            con.close()
        job.mark("delete", tables=tables, text_redacted=redacted)
    if not job.done("files"):
        needles = _needles(person)
        removed = clean_dlt_dir(settings.dlt_dir)
        access_exports = files_holding(settings.privacy_path / "access", needles)
        for path in access_exports:  # an earlier access export of this person
            Path(path).unlink()
        skip = (journal.jobs_dir(settings), settings.requests_path)
        scrubbed = scrub_text_files([settings.warehouse_dir, settings.dlt_dir], needles, skip) if data_held else []
        job.mark(
            "files",
            dlt_files_removed=removed,
            access_exports_removed=len(access_exports),
            files_scrubbed=scrubbed,
            model_files=files_holding(settings.models_dir, needles),
        )
    if not job.done("compact"):
        job.mark("compact", bytes=list(compact(settings.warehouse)) if data_held else [0, 0])
    if not job.done("publish"):
        job.mark("publish", republished=republish(settings) if data_held else [])
    if not job.done("verify"):
        con = connect(settings)
        try:
            left = rows_held(con, person, load_key(settings))
        finally:
            con.close()
        if left:
            raise ErasureIncomplete(f"erasure {request_id}: still held after erasing: {left}")
        job.mark("verify")

    deleted, files = job.facts("delete"), job.facts("files")
    result = ErasureResult(
        request_id=request_id,
        member_count=len(person.member_ids),
        rows_held=held,
        tables=deleted.get("tables", {}),
        text_redacted=deleted.get("text_redacted", {}),
        suppressed_tokens=job.facts("suppress").get("tokens_added", 0),
        dlt_files_removed=files.get("dlt_files_removed", 0),
        files_scrubbed=files.get("files_scrubbed", []),
        model_files_holding_person=files.get("model_files", []),
        warehouse_bytes=tuple(job.facts("compact").get("bytes", [0, 0])),
        republished=job.facts("publish").get("republished", []),
        resumed=job.resumed,
    )
    if not job.done("audit"):
        audit.record(
            settings,
            "erasure",
            request_id,
            {
                "answer": "erased" if result.data_held else "no data held",
                "members": result.member_count,
                "rows_held_before": held,
                "rows_removed": result.rows_removed,
                "free_text_redacted": result.text_redacted,
                "suppressed": job.facts("suppress").get("suppressed", False),
                "suppression_tokens_added": result.suppressed_tokens,
                "suppression_key_fingerprint": suppression_key.fingerprint,
                "suppression_key_is_demo": suppression_key.is_demo,
                "dlt_files_removed": result.dlt_files_removed,
                "access_exports_removed": files.get("access_exports_removed", 0),
                "files_scrubbed": len(result.files_scrubbed),
                "model_files_holding_person": len(result.model_files_holding_person),
                "compacted_bytes": {"before": result.warehouse_bytes[0], "after": result.warehouse_bytes[1]},
                "republished": result.republished,
                "resumed_after_a_kill": job.resumed,
            },
        )
        job.mark("audit")
    if owned:
        job.finish()
    return result
