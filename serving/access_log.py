"""Who read what on the serving database: a summary of the local server's CSV log.

postgres/server.py configures the local server to log every connection and disconnection
(`log_connections`, `log_disconnections`) into `<data>/log/postgresql-<day>.csv`, and
serving/grants.py logs every statement of the BI logins (`log_statement = 'all'` on each
login). This reads those files and summarizes, per database user, for a period:
connections, first and last time seen, the served relations (`marts.*`, `metrics.*`) its
statements read (from `FROM` / `JOIN` clauses, simple and extended protocol alike) and the
relations it was refused (permission denied). The compliance report prints it
(`markdown`; privacy/report.py takes the section from its caller).

An external server (MALLCRM_POSTGRES_DSN) keeps its logs where it runs: the summary then
says so instead of guessing.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from mallcrm.core.settings import Settings
from postgres import server

SERVED_SCHEMAS = ("marts", "metrics")
# PostgreSQL 15's csvlog columns (https://www.postgresql.org/docs/15/runtime-config-logging.html)
LOG_TIME, USER, DATABASE, SESSION, SQL_STATE, MESSAGE, QUERY = 0, 1, 2, 5, 12, 13, 19
READS = re.compile(r"^\s*(?:select|with|table|copy|declare|explain|values)\b", re.I)  # not DDL's "as select"
STATEMENT = re.compile(r"^(?:statement|execute [^:]*): (.*)$", re.S)
_NAME = r'(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)'
RELATION = re.compile(rf"\b(?:from|join)\s+({_NAME})\s*\.\s*({_NAME})", re.I)
DENIED = re.compile(r"permission denied for (?:table|view|relation|schema) (\S+)")
DEFAULT_DAYS = 30


@dataclass
class UserAccess:
    connections: int = 0
    first: datetime | None = None
    last: datetime | None = None
    relations: Counter = field(default_factory=Counter)  # "schema.table" -> statements reading it
    denied: Counter = field(default_factory=Counter)  # relation -> refused statements

    def seen(self, at: datetime) -> None:
        self.first = at if self.first is None or at < self.first else self.first
        self.last = at if self.last is None or at > self.last else self.last


@dataclass
class AccessSummary:
    since: datetime
    until: datetime
    users: dict[str, UserAccess]
    source: str  # the log folder read, or why none was
    available: bool = True


def log_dir(settings: Settings) -> Path:
    return server.log_dir(settings)


def _unquote(name: str) -> str:
    return name[1:-1].replace('""', '"') if name.startswith('"') else name.lower()


def relations_read(statement: str) -> set[str]:
    """The served relations a statement reads ("schema.table")."""
    found = {f"{_unquote(s)}.{_unquote(t)}" for s, t in RELATION.findall(statement)}
    return {r for r in found if r.split(".", 1)[0] in SERVED_SCHEMAS}


def _time(text: str) -> datetime:
    return datetime.strptime(text[:23].strip(), "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC)


def summarize(settings: Settings, since: datetime | None = None, until: datetime | None = None) -> AccessSummary:
    """Per user: connections, first/last time, relations read and refused, in [since, until)."""
    until = until or datetime.now(UTC)
    since = since or until - timedelta(days=DEFAULT_DAYS)
    if settings.postgres_dsn:
        return AccessSummary(
            since, until, {}, "external server (MALLCRM_POSTGRES_DSN): read its logs where it runs", False
        )
    folder = log_dir(settings)
    files = sorted(folder.glob("postgresql-*.csv")) if folder.is_dir() else []
    if not files:
        return AccessSummary(since, until, {}, f"no CSV log in {folder} (has the local server run?)", False)
    users: dict[str, UserAccess] = {}
    last_read: dict[str, set[str]] = {}  # session -> relations its last statement read
    for path in files:
        with open(path, newline="", encoding="utf-8", errors="replace") as fh:
            for row in csv.reader(fh):
                if len(row) <= QUERY or not row[USER]:
                    continue
                at = _time(row[LOG_TIME])
                if not since <= at < until:
                    continue
                user = users.setdefault(row[USER], UserAccess())
                message = row[MESSAGE]
                if message.startswith("connection authorized:"):
                    user.connections += 1
                    user.seen(at)
                elif row[SQL_STATE] == "42501":  # refused: not read after all
                    user.seen(at)
                    denied = DENIED.search(message)
                    targets = relations_read(row[QUERY]) or ({denied.group(1)} if denied else {"?"})
                    user.denied.update(targets)
                    user.relations.subtract(last_read.pop(row[SESSION], set()) & targets)
                    user.relations += Counter()  # drop the zeros
                elif statement := STATEMENT.match(message):
                    user.seen(at)
                    read = relations_read(statement.group(1)) if READS.match(statement.group(1)) else set()
                    user.relations.update(read)
                    last_read[row[SESSION]] = read
    users = {name: u for name, u in users.items() if u.first is not None}
    return AccessSummary(since, until, users, str(folder))


def markdown(summary: AccessSummary) -> str:
    """The compliance report's section on database access."""
    period = f"{summary.since:%Y-%m-%d %H:%M} to {summary.until:%Y-%m-%d %H:%M} UTC"
    lines = [f"## Database access (PostgreSQL serving layer, {period})", ""]
    if not summary.available:
        return "\n".join([*lines, f"Not available: {summary.source}.", ""])
    lines += [
        f"From the server's log `{summary.source}`: connections, and the served relations each user's "
        "statements read or were refused (statements are logged for the BI logins).",
        "",
        "| user | connections | first seen | last seen | relations read (statements) | refused |",
        "|---|---|---|---|---|---|",
    ]
    for name, user in sorted(summary.users.items()):
        read = ", ".join(f"{r} ({n})" for r, n in sorted(user.relations.items())) or "—"
        refused = ", ".join(f"{r} ({n})" for r, n in sorted(user.denied.items())) or "—"
        lines.append(
            f"| {name} | {user.connections} | {user.first:%Y-%m-%d %H:%M:%S} | {user.last:%Y-%m-%d %H:%M:%S} |"
            f" {read} | {refused} |"
        )
    if not summary.users:
        lines.append("| — | | | | nobody connected | |")
    return "\n".join([*lines, ""])
