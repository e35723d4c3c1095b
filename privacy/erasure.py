"""Erasure: remove one person from every copy the project holds, then compact the file.

    from privacy.erasure import erase
    result = erase(settings, {"mobile": {"13812345678"}}, request_id="R-2026-001")

1. Resolve the person: every version of `raw_membership.members` whose member_id, card
   number, mobile or e-mail matches (normalized as privacy/tokens.py does) gives the
   member_ids and every value they ever had (the "needles").
2. Delete in every base table of the warehouse (raw_*, masked, intermediate, marts
   incl. incremental facts, ml_features, ml_scores, dbt snapshots; views follow their
   tables), found by column name, all in SQL:
   member_id / *_member_id -> delete the row (referrer_member_id -> set NULL: the
   referring member is someone else); card_no, mobile, email and their POS forms ->
   delete rows whose normalized value matches; *_token columns -> delete rows whose
   token is the person's token; quarantined_rows.raw_record -> delete lines containing
   a needle. Counts before/after per table go to the audit log.
3. Add the person's tokens to the suppression list (privacy/suppression.py, under its own
   key, checked before step 2 so a missing or wrong key stops the erasure before it starts).
4. Leftovers outside the tables: dlt load packages (completed and pending) and run
   traces in MALLCRM_DLT_DIR are deleted; an earlier access export of the person is
   deleted; files in the model registry are checked for the person.
5. Compact: DELETE leaves the old bytes in DuckDB's file, so the database is copied
   (COPY FROM DATABASE) into a new file that replaces the old one atomically.
6. Republish the BI copy and the role files that exist, from the erased marts.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from mallcrm.core.settings import Settings
from mallcrm.core.warehouse import connect
from privacy import audit, patterns
from privacy.bi_copy import bi_copy_path, publish_bi_copy
from privacy.publish import publish_role_files, role_file_path
from privacy.suppression import add as add_suppression
from privacy.suppression import check_key as check_suppression_key
from privacy.tokens import TokenKey, load_key, normalize, token

MEMBERS = "raw_membership.members"
# raw column names -> identifier type
RAW_IDENTIFIERS = {
    "card_no": "card_no",
    "member_card_no": "card_no",
    "mobile": "mobile",
    "member_mobile": "mobile",
    "email": "email",
}
TOKEN_COLUMNS = {f"{name}_token": kind for name, kind in RAW_IDENTIFIERS.items()}
NULL_OUT_IDS = {"referrer_member_id"}
SKIP_SCHEMAS = {"information_schema", "pg_catalog"}


def normalized_sql(column: str, kind: str) -> str:
    """SQL twin of privacy.tokens.normalize (the `pii_normalization` rules of
    privacy/policy.yml, the same SQL the dbt macro `pii_normalize` is generated with)."""
    return patterns.normalize_sql(f"cast({column} as varchar)", kind, dialect="duckdb")


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _list(values) -> str:
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in sorted(values)) + "]"


@dataclass
class Person:
    member_ids: set[str] = field(default_factory=set)
    values: dict[str, set[str]] = field(default_factory=dict)  # kind -> raw values

    @property
    def normalized(self) -> dict[str, set[str]]:
        return {k: {n for v in vs if (n := normalize(v, k))} for k, vs in self.values.items()}

    @property
    def found(self) -> bool:
        return bool(self.member_ids or any(self.values.values()))


def _table_exists(con, qualified: str) -> bool:
    schema, table = qualified.split(".")
    return bool(
        con.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?", [schema, table]
        ).fetchall()[0][0]
    )


def resolve_person(con: duckdb.DuckDBPyConnection, identifiers: dict[str, set[str]]) -> Person:
    """Every member_id and identifier value the person ever had in the membership export."""
    person = Person(values={k: {v for v in identifiers.get(k, set()) if v} for k in ("card_no", "mobile", "email")})
    person.member_ids = {v.strip() for v in identifiers.get("member_id", set()) if v}
    person.values["name"] = set()
    if not _table_exists(con, MEMBERS):
        return person
    conditions = (
        [f"trim(member_id) in (select unnest({_list(person.member_ids)}::varchar[]))"] if person.member_ids else []
    )
    for kind, values in person.normalized.items():
        if values and kind != "name":
            conditions.append(f"{normalized_sql(kind, kind)} in (select unnest({_list(values)}::varchar[]))")
    if not conditions:
        return person
    ids = con.execute(f"select distinct member_id from {MEMBERS} where {' or '.join(conditions)}").fetchall()
    person.member_ids |= {r[0] for r in ids if r[0]}
    if person.member_ids:
        rows = con.execute(
            f"select distinct name, mobile, email, card_no from {MEMBERS} "
            f"where member_id in (select unnest({_list(person.member_ids)}::varchar[]))"
        ).fetchall()
        for name, mobile, email, card_no in rows:
            for kind, value in (("name", name), ("mobile", mobile), ("email", email), ("card_no", card_no)):
                if value:
                    person.values[kind].add(str(value))
    return person


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


def _conditions(columns: list[str], person: Person, tokens: dict[str, set[str]]) -> tuple[list[str], list[str]]:
    """(where clauses of rows to delete, id columns to null out) for one table."""
    deletes, nulls = [], []
    ids = _list(person.member_ids)
    normalized = person.normalized
    for column in columns:
        col = _q(column)
        if column == "member_id" or column.endswith("_member_id"):
            if not person.member_ids:
                continue
            target = nulls if column in NULL_OUT_IDS else deletes
            target.append(f"cast({col} as varchar) in (select unnest({ids}::varchar[]))")
        elif column in RAW_IDENTIFIERS and normalized.get(RAW_IDENTIFIERS[column]):
            kind = RAW_IDENTIFIERS[column]
            deletes.append(f"{normalized_sql(col, kind)} in (select unnest({_list(normalized[kind])}::varchar[]))")
        elif column in TOKEN_COLUMNS and tokens.get(TOKEN_COLUMNS[column]):
            deletes.append(f"{col} in (select unnest({_list(tokens[TOKEN_COLUMNS[column]])}::varchar[]))")
        elif column == "raw_record":
            needles = set(person.member_ids)
            for kind in ("mobile", "email", "card_no"):
                needles |= person.values.get(kind, set())
            if needles:
                deletes.append(
                    "("
                    + " or ".join(f"contains({col}, '{n.replace(chr(39), chr(39) * 2)}')" for n in sorted(needles))
                    + ")"
                )
    return deletes, nulls


@dataclass
class ErasureResult:
    request_id: str
    member_count: int
    tables: dict[str, dict[str, int]]  # table -> {before, after, nulled}
    suppressed_tokens: int
    dlt_files_removed: int
    model_files_holding_person: list[str]
    warehouse_bytes: tuple[int, int]
    republished: list[str]

    @property
    def rows_removed(self) -> int:
        return sum(t["before"] - t["after"] for t in self.tables.values())


def erase_in_warehouse(con, person: Person, key: TokenKey) -> dict[str, dict[str, int]]:
    tokens = {k: {token(v, k, key) for v in vs} for k, vs in person.values.items() if k != "name"}
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


def files_holding(folder: Path, needles: set[str]) -> list[str]:
    """Files under `folder` whose bytes contain any needle (UTF-8 or GBK)."""
    if not folder.exists() or not needles:
        return []
    patterns = set()
    for n in needles:
        patterns.add(n.encode("utf-8"))
        try:
            patterns.add(n.encode("gbk"))
        except UnicodeEncodeError:
            pass
    out = []
    for path in folder.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            if any(p in data for p in patterns):
                out.append(str(path))
    return sorted(out)


def republish(settings: Settings) -> list[str]:

    done = []
    if bi_copy_path(settings).exists():
        publish_bi_copy(settings)
        done.append("bi_copy")
    if (role_file_path(settings, "marketing")).parent.exists():
        publish_role_files(settings)
        done.append("role_files")
    return done


def erase(settings: Settings, identifiers: dict[str, set[str]], request_id: str) -> ErasureResult:
    """Erase one person everywhere (see module docstring); every step goes to the audit."""
    # before deleting anything: without a usable suppression key the person could not be kept out later
    suppression_key = check_suppression_key(settings)
    con = connect(settings)
    try:
        person = resolve_person(con, identifiers)
        tables = erase_in_warehouse(con, person, load_key(settings)) if person.found else {}
    finally:
        con.close()
    suppressed = add_suppression(
        settings,
        {"member_id": person.member_ids, **{k: v for k, v in person.values.items() if k != "name"}},
        request_id,
    )
    removed = clean_dlt_dir(settings.dlt_dir)
    needles = set(person.member_ids) | {v for k, vs in person.values.items() for v in vs if k != "name"}
    model_files = files_holding(settings.models_dir, needles)
    access_exports = files_holding(settings.privacy_path / "access", needles)
    for path in access_exports:  # an earlier access export of this person
        Path(path).unlink()
    sizes = compact(settings.warehouse)
    republished = republish(settings)
    result = ErasureResult(
        request_id, len(person.member_ids), tables, suppressed, removed, model_files, sizes, republished
    )
    audit.record(
        settings,
        "erasure",
        request_id,
        {
            "members": result.member_count,
            "tables": tables,
            "rows_removed": result.rows_removed,
            "suppression_tokens_added": suppressed,
            "suppression_key_fingerprint": suppression_key.fingerprint,
            "suppression_key_is_demo": suppression_key.is_demo,
            "dlt_files_removed": removed,
            "access_exports_removed": len(access_exports),
            "model_files_holding_person": len(model_files),
            "compacted_bytes": {"before": sizes[0], "after": sizes[1]},
            "republished": republished,
        },
    )
    return result
