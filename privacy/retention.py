"""Retention purge: apply the periods of privacy/policy.yml to every table that holds rows.

    from privacy.retention import purge
    result = purge(settings)                 # as of the warehouse's as-of day; dry_run=True only counts

For each raw table of the policy (and the bookkeeping tables `ingested_files` and
`quarantined_rows` in every raw dataset, and `derived_retention`: ML score tables), the
table retention `{days, anchor, expiry}` is applied to rows whose anchor is older than
`as_of - days`, where `as_of` is one day for the whole project (`as_of_date`): the day
`MALLCRM_QUALITY_AS_OF` names (`now`: the wall clock's UTC date), else the day after the
latest business day loaded. The Soda retention checks (quality.runner), the compliance
report (privacy.report) and the purge all count "past retention" as of that day, so their
counts agree.
- delete: the rows are deleted;
- aggregate: the rows are counted per anchor month into `privacy.retention_aggregates`
  (table, month, rows; no identifier) and then deleted;
and every column retention with `expiry: null_out` sets that column to NULL on its
expired rows (POS card number and mobile after 5 years, survey comments after 1 year).
The anchor is the column named by `anchor`, or the expression `anchor_sql` (alias `t`)
when the anchor is derived (a receipt line's receipt date, a member's close date).

Everything is SQL inside DuckDB. dbt-built tables reading a purged table are then rebuilt
with `dbt build --full-refresh --select source:<table>+` (incremental models would keep
old rows otherwise; ML score tables are purged directly), and
the file is compacted so purged values leave the file, the role files and BI copy are
published again, and the counts before and after per table go to the audit log.

A purge is a journaled job (privacy/journal.py): its intent (the expired rows per table,
counted before anything is removed) is written first and each of the steps apply,
rebuild, compact, publish and audit is recorded once done. A purge killed at any point
is finished by the next `mallcrm privacy purge` (or the Dagster job): the rebuild covers
the tables the killed run purged, and the audit entry records the rows it expired. Until
then `mallcrm check` and `mallcrm doctor` report the unfinished job.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import duckdb

from mallcrm.core.dbt import run_dbt
from mallcrm.core.settings import Settings
from mallcrm.core.warehouse import connect
from privacy import audit, journal
from privacy.erasure import compact, republish
from privacy.policy import load_policy

JOB = "retention_purge"
AGGREGATES_DDL = """
create schema if not exists privacy;
create table if not exists privacy.retention_aggregates (
    table_name varchar, anchor_month date, rows bigint, purged_at timestamp with time zone);
"""


def reference_time(con: duckdb.DuckDBPyConnection, settings: Settings) -> datetime:
    """The instant the warehouse is judged at (retention, and the Soda freshness checks):
    MALLCRM_QUALITY_AS_OF when set (an ISO date or timestamp, or `now` for the wall clock),
    else the day after the latest business day loaded: the mall's "today" as its exports
    show it, so a replayed or simulated history is judged by its own calendar."""
    value = settings.quality_as_of or ""
    if value == "now":
        return datetime.now(UTC)
    if value:
        parsed = datetime.fromisoformat(value)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    schemas = [
        r[0]
        for r in con.execute(
            "select table_schema from information_schema.tables where table_name = 'ingested_files' "
            "and table_schema like 'raw\\_%' escape '\\'"
        ).fetchall()
    ]
    latest: date | None = None
    if schemas:
        union = " union all ".join(f"select max(business_date) from {s}.ingested_files" for s in schemas)
        latest = con.execute(f"select max(d) from ({union}) as t(d)").fetchone()[0]
    if latest is None:
        return datetime.now(UTC)
    return datetime.combine(latest + timedelta(days=1), datetime.min.time(), tzinfo=UTC)


def as_of_date(con: duckdb.DuckDBPyConnection, settings: Settings) -> date:
    """The day "past retention" is counted as of, by the checks, the report and the purge
    (the date of `reference_time`, as the Soda checks cast their `AS_OF` to a date)."""
    return reference_time(con, settings).date()


@dataclass(frozen=True)
class Rule:
    table: str  # schema.table
    days: int
    anchor: str  # SQL expression on alias t
    expiry: str  # delete | aggregate | null_out
    column: str | None = None  # for null_out

    def cutoff(self, as_of: date) -> date:
        return as_of - timedelta(days=self.days)


def _anchor(retention: dict) -> str:
    if retention.get("anchor_sql"):
        return " ".join(str(retention["anchor_sql"]).split())
    return f't."{retention["anchor"]}"'


def rules(policy: dict, datasets: list[str]) -> list[Rule]:
    """Every retention rule of the policy, expanded to the tables it covers."""
    out: list[Rule] = []
    for table, spec in (policy.get("tables") or {}).items():
        retention = spec.get("retention")
        if retention:
            out.append(Rule(table, int(retention["days"]), _anchor(retention), retention["expiry"]))
        for column, cspec in (spec.get("columns") or {}).items():
            cret = (cspec or {}).get("retention")
            if cret and cret.get("expiry") == "null_out":
                out.append(Rule(table, int(cret["days"]), _anchor(cret), "null_out", column))
    for name, spec in (policy.get("bookkeeping_tables") or {}).items():
        retention = spec.get("retention")
        for dataset in datasets:
            out.append(Rule(f"{dataset}.{name}", int(retention["days"]), _anchor(retention), retention["expiry"]))
    for table, retention in (policy.get("derived_retention") or {}).items():
        out.append(Rule(table, int(retention["days"]), _anchor(retention), retention["expiry"]))
    return out


@dataclass
class PurgeResult:
    as_of: date
    dry_run: bool
    tables: dict[str, dict] = field(default_factory=dict)  # rule label -> counts
    rebuilt: bool = False
    compacted: tuple[int, int] | None = None
    resumed: bool = False  # this result finished a purge a killed run had started
    finished: bool = False  # every step done (False: the rebuild failed; the journal stays)

    @property
    def affected(self) -> int:
        return sum(t["expired"] for t in self.tables.values())


def _existing(con) -> set[str]:
    return {
        f"{s}.{t}"
        for s, t in con.execute(
            "select table_schema, table_name from information_schema.tables where table_type = 'BASE TABLE'"
        ).fetchall()
    }


def _raw_datasets(con) -> list[str]:
    return sorted(
        r[0]
        for r in con.execute(
            "select distinct table_schema from information_schema.tables where table_schema like 'raw\\_%' escape '\\' "
            "and table_name = 'ingested_files'"
        ).fetchall()
    )


def expired_counts(con, policy: dict, as_of: date) -> dict[str, dict]:
    """Per rule: rows, expired rows, and the oldest anchor (for the compliance report)."""
    existing = _existing(con)
    out = {}
    for rule in rules(policy, _raw_datasets(con)):
        if rule.table not in existing:
            continue
        where = f"cast({rule.anchor} as date) < date '{rule.cutoff(as_of)}'"
        if rule.column:
            where += f' and t."{rule.column}" is not null'
        total, expired, oldest = con.execute(
            f"select count(*), count(*) filter (where {where}), min(cast({rule.anchor} as date)) from {rule.table} as t"
        ).fetchall()[0]
        label = rule.table + (f".{rule.column}" if rule.column else "")
        out[label] = {
            "rule": rule,
            "rows": total,
            "expired": expired,
            "oldest": oldest,
            "cutoff": rule.cutoff(as_of),
            "days": rule.days,
            "expiry": rule.expiry,
        }
    return out


def _reads_other_table(rule: Rule, tables: set[str]) -> bool:
    return any(table != rule.table and table in rule.anchor for table in tables)


def apply(con, counts: dict[str, dict], dry_run: bool = False) -> dict[str, dict]:
    """Delete, aggregate or null out the expired rows counted by `expired_counts`.

    Rules whose anchor reads another table (a receipt line anchored on its receipt, a
    consent on its member's close date) run first: once that other table is purged, the
    anchor would find nothing, and the rows it anchored would never expire.
    Returns per rule label the counts before and after.
    """
    tables = {c["rule"].table for c in counts.values()}
    ordered = sorted(counts.items(), key=lambda item: not _reads_other_table(item[1]["rule"], tables))
    if not dry_run:
        con.execute(AGGREGATES_DDL)
    out: dict[str, dict] = {}
    for label, c in ordered:
        rule: Rule = c["rule"]
        entry = {
            "rows_before": c["rows"],
            "expired": c["expired"],
            "expiry": rule.expiry,
            "cutoff": str(c["cutoff"]),
            "rows_after": c["rows"],
        }
        if not dry_run and c["expired"]:
            where = f"cast({rule.anchor} as date) < date '{c['cutoff']}'"
            if rule.expiry == "null_out":
                not_null = f't."{rule.column}" is not null'
                con.execute(f'update {rule.table} as t set "{rule.column}" = null where {where} and {not_null}')
            else:
                if rule.expiry == "aggregate":
                    con.execute(
                        f"insert into privacy.retention_aggregates select '{rule.table}', "
                        f"date_trunc('month', cast({rule.anchor} as date)), count(*), now() "
                        f"from {rule.table} as t where {where} group by all"
                    )
                # the anchor may read the table itself: fix the rows first
                con.execute(f"create temp table _expired as select rowid as rid from {rule.table} as t where {where}")
                con.execute(f"delete from {rule.table} where rowid in (select rid from _expired)")
                con.execute("drop table _expired")
            entry["rows_after"] = con.execute(f"select count(*) from {rule.table}").fetchall()[0][0]
        out[label] = entry
    return {label: out[label] for label in counts}


def label_table(label: str) -> str:
    """'raw_pos.transactions.member_card_no' -> 'raw_pos.transactions'."""
    return ".".join(label.split(".")[:2])


def _intent(counts: dict[str, dict], as_of: date) -> dict[str, Any]:
    """What a purge will expire, counted before anything is removed (the journal's intent)."""
    return {
        "as_of": str(as_of),
        "tables": {
            label: {k: (str(v) if isinstance(v, date) else v) for k, v in c.items() if k != "rule"}
            for label, c in counts.items()
        },
        "purged_tables": sorted({label_table(label) for label, c in counts.items() if c["expired"]}),
    }


def _run_job(settings: Settings, job: journal.Job, policy: dict, rebuild: bool) -> PurgeResult:
    """Run the steps of a purge job not done yet (all of them for a new job)."""
    as_of = date.fromisoformat(job.intent["as_of"])
    result = PurgeResult(as_of, dry_run=False, resumed=job.resumed)
    purged = job.intent["purged_tables"]
    if not job.done("apply"):
        con = connect(settings)
        try:  # a resumed run counts again: what the killed run removed is no longer expired
            after = apply(con, expired_counts(con, policy, as_of))
        finally:
            con.close()
        job.mark("apply", rows_after={label: t["rows_after"] for label, t in after.items()})
    rows_after = job.facts("apply")["rows_after"]
    result.tables = {
        label: {
            "rows_before": c["rows"],
            "expired": c["expired"],
            "expiry": c["expiry"],
            "cutoff": c["cutoff"],
            "rows_after": rows_after.get(label, c["rows"]),
        }
        for label, c in job.intent["tables"].items()
    }
    if not job.done("rebuild"):
        if rebuild and purged:
            # only what reads a purged table: its dbt source and everything downstream
            selection = [f"source:{table}+" for table in purged]
            if not run_dbt(["build", "--full-refresh", "--select", *selection], settings, quiet=True).success:
                return result  # the journal stays: the next run retries the rebuild
        job.mark("rebuild", rebuilt=bool(rebuild and purged))
    result.rebuilt = job.facts("rebuild")["rebuilt"]
    if not job.done("compact"):
        job.mark("compact", bytes=list(compact(settings.warehouse)) if purged else None)
    result.compacted = tuple(job.facts("compact")["bytes"]) if job.facts("compact")["bytes"] else None
    if not job.done("publish"):
        job.mark("publish", republished=republish(settings) if purged else [])
    if not job.done("audit"):
        audit.record(
            settings,
            "retention_purge",
            f"as of {as_of}",
            {
                "tables": {k: v for k, v in result.tables.items() if v["expired"]},
                "tables_checked": len(result.tables),
                "rows_expired": result.affected,
                "dbt_rebuilt": result.rebuilt,
                "compacted_bytes": list(result.compacted) if result.compacted else None,
                "republished": job.facts("publish")["republished"],
                "resumed_after_a_kill": job.resumed,
            },
        )
        job.mark("audit")
    job.finish()
    result.finished = True
    return result


def purge(
    settings: Settings,
    as_of: date | None = None,
    dry_run: bool = False,
    rebuild: bool = True,
    policy: dict | None = None,
) -> PurgeResult:
    """Apply the policy's retention (see module docstring) as a journaled job.

    A purge killed at any point left its journal: it is finished first (rebuild,
    compaction, publishing and the audit entry with the rows the killed run expired),
    whatever `as_of` this call asks for; then this call's purge runs. `as_of` defaults
    to `as_of_date`, the day the retention checks and the compliance report count at."""
    policy = load_policy() if policy is None else policy
    if as_of is None:
        con = connect(settings)
        try:
            as_of = as_of_date(con, settings)
        finally:
            con.close()
    if dry_run:
        result = PurgeResult(as_of, dry_run)
        con = connect(settings)
        try:
            result.tables = apply(con, expired_counts(con, policy, as_of), dry_run=True)
        finally:
            con.close()
        return result
    resumed = [_run_job(settings, job, policy, rebuild) for job in journal.pending(settings, JOB)]
    if any(not r.finished for r in resumed):
        return next(r for r in resumed if not r.finished)
    same_day = [r for r in resumed if r.as_of == as_of]
    if same_day:  # the killed run was this very purge: finishing it was the whole job
        return same_day[-1]

    def intent() -> dict[str, Any]:
        con = connect(settings)
        try:
            return _intent(expired_counts(con, policy, as_of), as_of)
        finally:
            con.close()

    result = _run_job(settings, journal.open_job(settings, JOB, str(as_of), intent), policy, rebuild)
    if resumed and not result.affected:  # report what the finished (killed) run removed
        return resumed[-1]
    return result
