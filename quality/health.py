"""The warehouse's health at a glance (`mallcrm doctor`), read without writing anything.

Sections: freshness per source (ingested_files), last runs (Dagster's run storage under
DAGSTER_HOME when present, and dlt's own load history `_dlt_loads`), failing data-quality
checks (quality.runner), quarantined rows by reason, open privacy requests (privacy.requests
when that table exists), inbox files not processed (misnamed: a problem; not complete yet:
listed), and the as-of date of the analytics (the latest POS business day the member
marts are built to; a warning when it lies after today, i.e. a future-dated row moved it).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from mallcrm.core.inbox import InboxLog, inbox_state
from mallcrm.core.settings import Settings
from mallcrm.core.warehouse import connect
from privacy import journal
from privacy.retention import reference_time
from quality.runner import run_checks


@dataclass
class HealthReport:
    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # shown, but not a failing exit code

    @property
    def text(self) -> str:
        verdict = (
            "HEALTHY"
            if not self.problems
            else f"{len(self.problems)} PROBLEM(S):\n" + "\n".join(f"  - {p}" for p in self.problems)
        )
        warned = [f"{len(self.warnings)} WARNING(S):", *(f"  - {w}" for w in self.warnings)] if self.warnings else []
        return "\n".join([*self.lines, "", *warned, verdict])


def _schemas(con, table: str) -> list[str]:
    return [
        r[0]
        for r in con.execute(
            "select table_schema from information_schema.tables where table_name = ? "
            "and table_schema like 'raw\\_%' escape '\\' order by 1",
            [table],
        ).fetchall()
    ]


def _section(report: HealthReport, title: str, rows: list[str]) -> None:
    report.lines += ["", f"== {title}", *(rows or ["  (none)"])]


def _freshness(con, now: datetime) -> list[str]:
    rows = []
    for schema in _schemas(con, "ingested_files"):
        for entity, latest_day, loaded, files, refused in con.execute(
            f"select entity, max(business_date), max(loaded_at), count(*), count(*) filter (where status = 'refused') "
            f"from {schema}.ingested_files group by entity order by entity"
        ).fetchall():
            age = f"{(now - loaded).total_seconds() / 3600:,.0f} h ago" if loaded else "never"
            rows.append(
                f"  {schema + '.' + entity:<34} latest business day {latest_day}  last load {age}  "
                f"{files} files{f', {refused} refused' if refused else ''}"
            )
    return rows


def _dagster_runs(home: str | None) -> list[str]:
    db = Path(home) / "history" / "runs.db" if home else None
    if db is None or not db.exists():
        return [f"  no Dagster run storage in {home} (runs started with `make dev` appear here)"]
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = con.execute(
            "select pipeline_name, status, create_timestamp, run_id from runs order by create_timestamp desc limit 5"
        ).fetchall()
    except sqlite3.Error as exc:
        return [f"  Dagster run storage unreadable: {exc}"]
    finally:
        con.close()
    return [f"  {created}  {job:<22} {status:<10} {run_id[:8]}" for job, status, created, run_id in rows]


def _dlt_loads(con) -> list[str]:
    parts = [
        f"select '{s}' as ds, load_id, status, inserted_at from {s}._dlt_loads" for s in _schemas(con, "_dlt_loads")
    ]
    if not parts:
        return []
    rows = con.execute(" union all ".join(parts) + " order by inserted_at desc limit 6").fetchall()
    return [f"  {at}  dlt load {load_id} into {ds} (status {status})" for ds, load_id, status, at in rows]


def _quarantine(con) -> list[str]:
    parts = [f"select system, entity, rule from {s}.quarantined_rows" for s in _schemas(con, "quarantined_rows")]
    if not parts:
        return []
    rows = con.execute(
        f"select system, entity, rule, count(*) from ({' union all '.join(parts)}) "
        "group by all order by 4 desc, 1, 2, 3"
    ).fetchall()
    return [f"  {n:>6}  {system}/{entity}: {rule}" for system, entity, rule, n in rows]


def _privacy_requests(con) -> list[str]:
    exists = con.execute(
        "select count(*) from information_schema.tables where table_schema = 'privacy' and table_name = 'requests'"
    ).fetchone()[0]
    if not exists:
        return ["  none tracked (no privacy.requests table in this warehouse)"]
    rows = con.execute(
        "select request_id, request_type, deadline, status from privacy.requests "
        "where status <> 'done' order by deadline"
    ).fetchall()
    return [f"  {rid}  {kind:<10} due {deadline}  {status}" for rid, kind, deadline, status in rows] or ["  none open"]


def _as_of_date(con) -> tuple[date | None, str]:
    """The day the member marts are built to (marts.mart_member_360.as_of_date, from
    int_member__as_of_date: var `as_of_date`, else the latest POS business day)."""
    for schema, table in (("marts", "mart_member_360"), ("intermediate", "int_member__as_of_date")):
        exists = con.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
            [schema, table],
        ).fetchone()[0]
        if exists:
            day = con.execute(f"select max(as_of_date) from {schema}.{table}").fetchone()[0]
            if day is not None:
                return day, f"{schema}.{table}"
    return None, ""


def as_of_section(con, today: date) -> tuple[list[str], list[str]]:
    """(lines, warnings) about the analytics' as-of date."""
    day, where = _as_of_date(con)
    if day is None:
        return ["  not built yet (no member marts): run `mallcrm build`"], []
    line = f"  member marts are computed as of {day} (latest POS business day; {where}); today is {today}"
    if day > today:
        return [line], [
            f"the analytics' as-of date {day} is after today ({today}): a future-dated POS row moved it, "
            "so every member window ends in the future; find the row (stg_pos__transactions.business_date "
            f"> '{today}'), have it corrected, or pin dbt var as_of_date"
        ]
    return [line], []


def unprocessed_inbox_files(settings: Settings) -> tuple[list[str], list[str]]:
    """(files that fit no export of the contract, files not complete yet) in the inbox."""
    log = InboxLog()
    inbox_state(settings.inbox, log, wait=False)
    return log.unmatched, log.waiting


def unfinished_privacy_jobs(settings: Settings) -> list[str]:
    """A journaled privacy job a killed run left: personal data may be half removed."""
    rerun = {
        "retention_purge": "mallcrm privacy purge",
        "erasure": "mallcrm privacy requests --process",
        "consent_withdrawal": "mallcrm privacy requests --process",
    }
    return [
        f"unfinished privacy job {job.kind} {job.job_id} (started {job.started_at}, done: "
        f"{', '.join(job.steps) or 'nothing'}): run `{rerun.get(job.kind, 'the same command')}` to finish it"
        for job in journal.pending(settings)
    ]


def health_report(settings: Settings, dagster_home: str | None, now: datetime) -> HealthReport:

    report = HealthReport()
    if not settings.warehouse.exists():
        report.problems.append(f"no warehouse at {settings.warehouse}: run `mallcrm ingest` and `mallcrm build`")
        return report
    con = connect(settings)
    try:
        as_of = reference_time(con, settings)
        report.lines.append(f"warehouse {settings.warehouse}; quality reference time {as_of:%Y-%m-%d %H:%M} UTC")
        as_of_lines, as_of_warnings = as_of_section(con, now.astimezone(ZoneInfo(settings.timezone)).date())
        _section(report, "as-of date of the analytics", as_of_lines)
        report.warnings += as_of_warnings
        _section(report, "freshness per source (ingested_files)", _freshness(con, now))
        loads = _dlt_loads(con)
        quarantine = _quarantine(con)
        requests = _privacy_requests(con)
    finally:
        con.close()
    _section(report, "last runs (Dagster)", _dagster_runs(dagster_home))
    _section(report, "last loads (dlt, in the warehouse)", loads)
    results = run_checks(settings)
    failed = [r for r in results if r.outcome in ("failed", "error")]
    warned = [r for r in results if r.outcome == "warned"]
    _section(
        report,
        f"data-quality checks: {len(results)} run, {len(failed)} failed, {len(warned)} warned",
        [f"  FAILED {r.reason}" for r in failed] + [f"  warn   {r.reason}" for r in warned],
    )
    _section(report, "quarantined rows by reason", quarantine)
    _section(report, "open privacy requests", requests)
    unfinished = unfinished_privacy_jobs(settings)
    _section(report, "unfinished privacy jobs (a killed run)", [f"  {u}" for u in unfinished] or ["  none"])
    unmatched, waiting = unprocessed_inbox_files(settings)
    _section(
        report,
        f"inbox files not processed ({settings.inbox})",
        [f"  not read (fits no export of the contract)  {u}" for u in unmatched]
        + [f"  waiting (not complete yet)  {w}" for w in waiting]
        or ["  none"],
    )
    report.problems += [f"check failed: {r.reason}" for r in failed]
    report.problems += unfinished
    report.problems += [f"inbox file not processed, fits no export of the contract: {u}" for u in unmatched]
    return report
