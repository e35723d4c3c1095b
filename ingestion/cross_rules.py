"""Cross-row rules: rows that can only be judged against other rows, moved to quarantine.

A row rule (`rules:` in export_formats.yml) sees one row. Some impossible data only shows
against another row: a line with a negative quantity on a sale receipt, a refund larger
than the sale it refunds. Those rules are declared per system under `cross_rules:` in
ingestion/export_formats.yml, each a SQL query returning the offending rows
(`_source_file`, `_source_line`, `reason`) of one entity.

`apply_cross_rules` runs right after a system's load (ingestion.pipeline.run_ingestion),
in ONE DuckDB transaction, when a dlt load arrived since the last judgement
(`<dataset>.cross_rules_judged`, written in the same transaction; a run with nothing new
costs one query). It judges the rows tied to the rows loaded since that judgement
(`cross_rules_scope:` of the system: the columns that tie rows, e.g. a receipt id), or
the whole raw dataset on a first judgement; the result is the same either way:

- the queries read `current_<entity>`: the newest copy of each record (primary key) of
  the raw table — highest file version (`<entity>_<day>_v<N>`), then latest load, then
  later file and line; the rule staging applies (dbt macro `newest_copy_first`);
- each offending raw row is inserted into `<dataset>.quarantined_rows` (rule
  `cross:<name>`, reason, the row as JSON) and deleted from its raw table;
- `ingested_files` of its file moves the row from `rows_loaded` to `rows_quarantined`,
  so rows in file = loaded + quarantined stays exact.

A rule runs again until it finds nothing (quarantining the newest copy of a record makes
an older copy current, which is judged in turn). Killed mid-way, the transaction rolls
back; a re-run judges the same rows again and ends in the same state, and rows already
moved are no longer in raw, so nothing is moved twice. A row whose counterpart has not
arrived yet (a refund before its sale) is not judged; it is when the counterpart arrives.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

import yaml

from mallcrm.core.contract import ExportFormat, load_contract
from mallcrm.core.settings import EXPORT_FORMATS_FILE, Settings
from mallcrm.core.warehouse import connect

RULE_PREFIX = "cross:"
FILES_TABLE = "ingested_files"
QUARANTINE_TABLE = "quarantined_rows"
LOADS_TABLE = "_dlt_loads"
# the newest dlt load the rules have judged: a run with no load since is skipped
STATE_TABLE = "cross_rules_judged"
# Quarantining the current copy of a record makes the next copy current: judge again,
# at most this many times per rule and run (one pass per version of a record).
MAX_PASSES = 20

# The file version in `_source_file` (`_v<N>` before the extension; otherwise 1) and the
# order that puts the newest copy of a record first. Same rule as the dbt macros
# `source_file_version` and `newest_copy_first` (dbt_project/macros/cross_db/).
VERSION_SQL = "coalesce(try_cast(regexp_extract(_source_file, '_v([0-9]+)[.][a-z]+$', 1) as integer), 1)"
NEWEST_COPY_FIRST = f"{VERSION_SQL} desc, _loaded_at desc, _source_file desc, _source_line desc"


@dataclass(frozen=True)
class CrossRule:
    system: str
    name: str
    entity: str
    description: str
    query: str

    @property
    def rule(self) -> str:
        return f"{RULE_PREFIX}{self.name}"


def load_cross_rules(path: Path = EXPORT_FORMATS_FILE) -> list[CrossRule]:
    """Every `cross_rules:` entry of the export contract, in declared order (the file is
    parsed once per version of it: the rules run after every system's load)."""
    return list(_load(path)[0])


def load_cross_scope(path: Path = EXPORT_FORMATS_FILE) -> dict[str, dict[str, tuple[str, ...]]]:
    """`cross_rules_scope:` per system: entity -> the columns that tie the rows its cross
    rules compare (see apply_cross_rules)."""
    return _load(path)[1]


def _load(path: Path) -> tuple[tuple[CrossRule, ...], dict[str, dict[str, tuple[str, ...]]]]:
    stat = path.stat()
    return _parse(path, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=4)
def _parse(path: Path, _mtime_ns: int, _size: int) -> tuple[tuple[CrossRule, ...], dict]:
    with open(path, encoding="utf-8") as fh:
        raw = yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # libyaml when present
    rules, scopes = [], {}
    for system, spec in raw["systems"].items():
        for name, rule in (spec.get("cross_rules") or {}).items():
            unknown = set(rule) - {"entity", "description", "query"}
            if unknown or "entity" not in rule or "query" not in rule:
                raise ValueError(f"cross rule {system}/{name}: needs entity and query (got {sorted(rule)})")
            if rule["entity"] not in spec["entities"]:
                raise ValueError(f"cross rule {system}/{name}: unknown entity {rule['entity']!r}")
            rules.append(CrossRule(system, name, rule["entity"], rule.get("description", ""), rule["query"]))
        scope = {}
        for entity, columns in (spec.get("cross_rules_scope") or {}).items():
            entity_spec = spec["entities"].get(entity)
            if entity_spec is None:
                raise ValueError(f"cross_rules_scope of {system}: unknown entity {entity!r}")
            columns = tuple(columns or ())
            if not set(columns) <= set(entity_spec["columns"]) or not set(columns) & set(entity_spec["primary_key"]):
                raise ValueError(
                    f"cross_rules_scope of {system}/{entity}: columns of the entity, one of them "
                    f"a primary key column (got {list(columns)})"
                )
            scope[entity] = columns
        if scope:
            scopes[system] = scope
    return tuple(rules), scopes


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _in_scope(columns: tuple[str, ...]) -> str:
    """A row shares a value of its scope columns with the judged keys (`_scope_keys`)."""
    return " or ".join(f"cast({_ident(c)} as varchar) in (select k from _scope_keys)" for c in columns)


def _current_view(con, dataset: str, export: ExportFormat, scope: tuple[str, ...] | None = None) -> None:
    keys = ", ".join(_ident(k) for k in export.primary_key)
    where = f"where {_in_scope(scope)} " if scope else ""
    con.execute(
        f"create or replace temp view {_ident('current_' + export.entity)} as "
        f"select * from {_ident(dataset)}.{_ident(export.entity)} {where}"
        f"qualify row_number() over (partition by {keys} order by {NEWEST_COPY_FIRST}) = 1"
    )


# Rounds of the closure of the judged keys before falling back to judging everything.
MAX_SCOPE_ROUNDS = 100


def _scope_keys(con, dataset: str, scope: dict[str, tuple[str, ...]], judged: str) -> bool:
    """Fill `_scope_keys` with the values of the scope columns of the rows loaded after
    `judged`, closed over the history: a row holding one of the keys adds all its scope
    values, until nothing new comes. The rows of the closure are every row a rule can
    compare with a new row (and every copy of their records: a primary key column is in
    each entity's scope). False when the closure did not settle (judge everything)."""

    since = judged.replace("'", "''")
    new_rows = " union all ".join(
        f"select cast({_ident(c)} as varchar) as k from {_ident(dataset)}.{_ident(e)} "
        f"where {_ident(c)} is not null and _dlt_load_id > '{since}'"
        for e, cols in scope.items()
        for c in cols
    )
    con.execute(f"create or replace temp table _scope_keys as select distinct k from ({new_rows})")
    for _ in range(MAX_SCOPE_ROUNDS):
        linked = " union all ".join(
            f"select cast({_ident(c)} as varchar) as k from {_ident(dataset)}.{_ident(e)} "
            f"where {_ident(c)} is not null and ({_in_scope(cols)})"
            for e, cols in scope.items()
            for c in cols
        )
        added = con.execute(
            f"insert into _scope_keys select distinct k from ({linked}) where k not in (select k from _scope_keys)"
        ).fetchone()[0]
        if not added:
            return True
    return False


def _apply_once(con, dataset: str, export: ExportFormat, rule: CrossRule, at: datetime) -> int:
    """Move the rows `rule` finds now; returns how many moved (counted per file in _moved)."""
    table = f"{_ident(dataset)}.{_ident(export.entity)}"
    # the offending copy is the current one: an older load of the same file and line is
    # an older copy of the record, judged on the next pass once it has become current
    con.execute(
        f"""
        create or replace temp table _offending as
        select o._source_file, o._source_line, c._loaded_at, min(o.reason) as reason
        from ({rule.query}) as o
        join {_ident("current_" + export.entity)} as c
            on c._source_file = o._source_file and c._source_line = o._source_line
        group by 1, 2, 3
        """
    )
    same_copy = "o._source_file = r._source_file and o._source_line = r._source_line and o._loaded_at = r._loaded_at"
    record = ", ".join(f"{_ident(c)} := r.{_ident(c)}" for c in export.column_names)
    con.execute(
        f"""
        insert into {_ident(dataset)}.{QUARANTINE_TABLE}
            (source_file, source_line, system, entity, rule, reason, raw_record, quarantined_at, _dlt_load_id)
        select r._source_file, r._source_line, ?, ?, ?,
            r._source_file || ' line ' || r._source_line || ': breaks rule ' || ? || ' (' || o.reason || ')',
            to_json(struct_pack({record})), ?, r._dlt_load_id
        from {table} as r
        join _offending as o on {same_copy}
        """,
        [export.system, export.entity, rule.rule, rule.name, at],
    )
    con.execute(
        f"""
        insert into _moved
        select r._source_file, r._loaded_at, count(*) from {table} as r
        join _offending as o on {same_copy}
        group by 1, 2
        """
    )
    moved = con.execute(
        f"""
        delete from {table} as r using _offending as o
        where {same_copy}
        """
    ).fetchone()[0]
    con.execute("drop table _offending")
    return int(moved)


def apply_cross_rules(settings: Settings, system: str, log=None, full: bool = False) -> dict[str, int]:
    """Apply `system`'s cross rules to its raw dataset; returns rows moved per rule.

    Scoped to the new data: when the system declares `cross_rules_scope:` for every
    entity its rules read and an earlier judgement is recorded, the `current_<entity>`
    views hold only the rows tied (by the scope columns, transitively) to rows loaded
    since that judgement (`_scope_keys`). Every other row was judged before, and the rules
    found nothing among them then, so the result is the full scan's at a cost that
    follows the day's rows, not the history. `full` (or a first judgement) judges every row.

    `log` (ingestion.sources.IngestLog), when given, gets its file records' counts
    corrected like `ingested_files`. Call it with the warehouse's write lock held
    (pipeline.steps.ingest does)."""
    rules = [r for r in load_cross_rules() if r.system == system]
    scope = load_cross_scope().get(system, {})
    if not rules or not settings.warehouse.exists():
        return {}
    contract = load_contract()
    dataset = contract.dataset(system)
    exports = {e.entity: e for e in contract.for_system(system)}
    con = connect(settings)
    try:
        existing = {
            row[0]
            for row in con.execute(
                "select table_name from information_schema.tables where table_schema = ?", [dataset]
            ).fetchall()
        }
        if not {FILES_TABLE, QUARANTINE_TABLE, LOADS_TABLE} <= existing:
            return {}
        latest = con.execute(f"select max(load_id) from {_ident(dataset)}.{LOADS_TABLE}").fetchone()[0]
        con.execute(f"create table if not exists {_ident(dataset)}.{STATE_TABLE} (judged_through varchar)")
        judged = con.execute(f"select max(judged_through) from {_ident(dataset)}.{STATE_TABLE}").fetchone()[0]
        if latest is None or (judged is not None and judged >= latest):
            return {}  # no load since the last judgement: nothing new to judge
        at = datetime.now(UTC).replace(microsecond=0)
        moved_by_rule: Counter = Counter()
        con.execute("begin transaction")
        try:
            read = {r.entity for r in rules} | {e for r in rules for e in exports if f"current_{e}" in r.query}
            scoped = (
                not full
                and judged is not None
                and read <= set(scope)
                and set(scope) <= existing
                and _scope_keys(con, dataset, scope, judged)
            )
            for entity, export in exports.items():
                if entity in existing:
                    _current_view(con, dataset, export, scope.get(entity) if scoped else None)
            con.execute(
                f"create or replace temp view {QUARANTINE_TABLE} as select * from {_ident(dataset)}.{QUARANTINE_TABLE}"
            )
            con.execute(
                "create or replace temp table _moved "
                "(source_file varchar, loaded_at timestamp with time zone, n bigint)"
            )
            for rule in rules:
                tables = {rule.entity} | {e for e in exports if f"current_{e}" in rule.query}
                if not tables <= existing:
                    continue  # a table the rule reads has not arrived yet: nothing to judge
                for _ in range(MAX_PASSES):
                    n = _apply_once(con, dataset, exports[rule.entity], rule, at)
                    moved_by_rule[rule.rule] += n
                    if n == 0:
                        break
            per_file = {
                (name, loaded): int(n)
                for name, loaded, n in con.execute(
                    "select source_file, loaded_at, sum(n) from _moved group by 1, 2"
                ).fetchall()
            }
            if per_file:
                con.execute(
                    f"""
                    update {_ident(dataset)}.{FILES_TABLE} as f
                    set rows_loaded = f.rows_loaded - m.n, rows_quarantined = f.rows_quarantined + m.n
                    from (select source_file, loaded_at, sum(n) as n from _moved group by 1, 2) as m
                    where f.source_file = m.source_file and f.loaded_at = m.loaded_at and f.status = 'loaded'
                    """
                )
            con.execute("drop table _moved; drop table if exists _scope_keys")
            # in the same transaction: a killed run leaves its loads to be judged again
            con.execute(f"delete from {_ident(dataset)}.{STATE_TABLE}")
            con.execute(f"insert into {_ident(dataset)}.{STATE_TABLE} values (?)", [latest])
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise
    finally:
        con.close()
    if log is not None and per_file:
        for record in log.files:
            n = per_file.get((record["source_file"], record.get("loaded_at")), 0)
            if n and record.get("status") == "loaded":
                record["rows_loaded"] -= n
                record["rows_quarantined"] += n
    return {rule: n for rule, n in moved_by_rule.items() if n}
