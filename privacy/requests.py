"""Data-subject requests: read the requests inbox, compute deadlines, act, track status.

Inbox: `MALLCRM_REQUESTS` (default `data/requests/`), one JSON file per request:

    {"request_id": "R-2026-0001",             letters, digits, '-', '_' (unique)
     "type": "erasure",                       erasure | access | consent_withdrawal
     "identifiers": {"mobile": "13812345678", "email": "a@b.cn"},
                                              any of member_id, mobile, email, card_no
     "received": "2026-06-01",                date the mall received it
     "jurisdiction": "PIPL",                  PIPL | GDPR | CCPA
     "suppress": false}                       optional: keep the identifiers out of future
                                              loads even if no data is held about them

Every problem of a file is listed (not only the first): a missing field, an unknown
type, an identifier that is not a mobile, e-mail, card number or member id ("n/a").

Deadlines (from `received`; the stricter reading where the law leaves room):
- PIPL: 15 working days (Mon-Fri; public holidays are not skipped, so the deadline is
  never later than the law's);
- GDPR art. 12(3): one month (same day next month, or that month's last day);
- CCPA: 45 calendar days.

Status lives in the warehouse, `privacy.requests`: request id, type, jurisdiction,
received, deadline, status (open | done | failed), the keyed tokens of the identifiers
(never the values), outcome counts. A processed request file is deleted: it holds the
identifiers in clear. Erasure and consent withdrawal are journaled jobs
(privacy/journal.py): a run killed half-way is finished by processing the inbox again, and
a request is marked done only once its job is done and verified. Erasure:
privacy/erasure.py; an identifier that matches no data is answered "no data held" (in
the status row and the audit log), and nothing is suppressed unless the request asks. Access: every row the warehouse
holds about the person, all layers, in `<privacy dir>/access/<request_id>.json`
(deleted again if the person is later erased). Consent withdrawal: the member goes into
`privacy.marketing_optouts`, which the marketing role file excludes, and their
`has_consent_marketing_*` flags in `marts.mart_member_360` turn false at once.
"""

from __future__ import annotations

import calendar
import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from mallcrm.core.settings import Settings
from mallcrm.core.warehouse import connect
from privacy import audit, journal, patterns
from privacy.erasure import (
    Person,
    _conditions,
    _q,
    base_tables,
    erase,
    open_erasure,
    republish,
    resolve_person,
)
from privacy.tokens import load_key, token

TYPES = ("erasure", "access", "consent_withdrawal")
JURISDICTIONS = ("PIPL", "GDPR", "CCPA")
IDENTIFIER_KEYS = ("member_id", "mobile", "email", "card_no")
# request identifier -> pii_type of privacy/policy.yml `pii_patterns`
IDENTIFIER_TYPES = {"mobile": "mobile", "email": "email", "card_no": "card_no"}
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

REQUESTS_DDL = """
create schema if not exists privacy;
create table if not exists privacy.requests (
    request_id varchar primary key, request_type varchar, jurisdiction varchar,
    received_on date, deadline date, status varchar, identifier_tokens varchar[],
    key_version varchar, processed_at timestamp with time zone, outcome varchar);
create table if not exists privacy.marketing_optouts (
    member_id varchar, request_id varchar, withdrawn_at timestamp with time zone);
"""


class RequestError(ValueError):
    """A request file that cannot be processed; the message names the file and every
    problem found in it (`problems`), not only the first."""

    def __init__(self, message: str, problems: list[str] | None = None):
        super().__init__(message)
        self.problems = problems or [message]


@dataclass(frozen=True)
class DataSubjectRequest:
    request_id: str
    type: str
    identifiers: dict[str, set[str]]
    received: date
    jurisdiction: str
    path: Path | None = None
    suppress: bool = False  # an erasure of identifiers that match no data: suppress them anyway

    @property
    def deadline(self) -> date:
        return deadline(self.received, self.jurisdiction)


def add_working_days(start: date, days: int) -> date:
    current = start
    while days:
        current += timedelta(days=1)
        if current.weekday() < 5:
            days -= 1
    return current


def add_month(start: date) -> date:
    year, month = (start.year + 1, 1) if start.month == 12 else (start.year, start.month + 1)
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def deadline(received: date, jurisdiction: str) -> date:
    if jurisdiction == "PIPL":
        return add_working_days(received, 15)
    if jurisdiction == "GDPR":
        return add_month(received)
    if jurisdiction == "CCPA":
        return received + timedelta(days=45)
    raise RequestError(f"unknown jurisdiction {jurisdiction!r} (one of {', '.join(JURISDICTIONS)})")


def _identifier_problem(kind: str, value: object) -> str | None:
    """Why `value` cannot be the identifier `kind` (None when it can)."""
    if not isinstance(value, str | int) or isinstance(value, bool):
        return f"identifier {kind} {value!r} must be text"
    text = str(value).strip()
    if kind == "member_id":
        return None if _ID.fullmatch(text) else f"identifier member_id {text!r} is not a member id"
    if not any(
        p.pii_type == IDENTIFIER_TYPES[kind] and re.fullmatch(p.regex, patterns.fold(text)) for p in patterns.PATTERNS
    ):
        return f"identifier {kind} {text!r} is not a valid {kind.replace('_', ' ')}"
    return None


def parse_request(path: Path) -> DataSubjectRequest:
    """Read and validate one request file; RequestError names the file and every problem."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RequestError(f"{path.name}: not a readable JSON file ({exc})") from exc
    if not isinstance(data, dict):
        raise RequestError(f"{path.name}: expected a JSON object")
    problems: list[str] = []
    rid = str(data.get("request_id") or "")
    if not _ID.fullmatch(rid):
        problems.append(f"request_id {rid!r} must be 1-64 letters, digits, '-' or '_'")
    kind = data.get("type")
    if kind not in TYPES:
        problems.append(f"type {kind!r} is not one of {', '.join(TYPES)}")
    jurisdiction = data.get("jurisdiction")
    if jurisdiction not in JURISDICTIONS:
        problems.append(f"jurisdiction {jurisdiction!r} is not one of {', '.join(JURISDICTIONS)}")
    received = None
    try:
        received = date.fromisoformat(str(data.get("received")))
    except ValueError:
        problems.append(f"received {data.get('received')!r} is not a date YYYY-MM-DD")
    suppress = data.get("suppress", False)
    if not isinstance(suppress, bool):
        problems.append(f"suppress {suppress!r} must be true or false")
    raw_ids = data.get("identifiers")
    identifiers: dict[str, set[str]] = {}
    if not isinstance(raw_ids, dict) or not raw_ids:
        problems.append(f"identifiers must be an object with any of {', '.join(IDENTIFIER_KEYS)}")
        raw_ids = {}
    for name, value in raw_ids.items():
        if name not in IDENTIFIER_KEYS:
            problems.append(f"identifier {name!r} is not one of {', '.join(IDENTIFIER_KEYS)}")
            continue
        values = value if isinstance(value, list) else [value]
        kept = set()
        for v in values:
            if isinstance(v, str) and not v.strip():
                continue
            problem = _identifier_problem(name, v)
            if problem:
                problems.append(problem)
            else:
                kept.add(str(v).strip())
        identifiers[name] = kept
    if raw_ids and not any(identifiers.values()) and not problems:
        problems.append("identifiers are all empty")
    if problems:
        raise RequestError(f"{path.name}: " + "; ".join(problems), problems)
    return DataSubjectRequest(rid, kind, identifiers, received, jurisdiction, path, suppress)


def read_inbox(folder: Path) -> tuple[list[DataSubjectRequest], list[str]]:
    """(valid requests, problems) of every *.json in the inbox."""
    found, problems = [], []
    if folder.exists():
        for path in sorted(folder.glob("*.json")):
            try:
                found.append(parse_request(path))
            except RequestError as exc:
                problems.append(str(exc))
    ids = [r.request_id for r in found]
    for rid in {i for i in ids if ids.count(i) > 1}:
        problems.append(f"request_id {rid} appears in more than one file")
    return found, problems


def _tokens(settings: Settings, request: DataSubjectRequest) -> list[str]:
    key = load_key(settings)
    return sorted({token(v, k, key) for k, vs in request.identifiers.items() for v in vs} - {None})


def ensure_tables(con) -> None:
    con.execute(REQUESTS_DDL)


def _record(settings: Settings, con, request: DataSubjectRequest, status: str, outcome: dict) -> None:
    con.execute("delete from privacy.requests where request_id = ?", [request.request_id])
    con.execute(
        "insert into privacy.requests values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            request.request_id,
            request.type,
            request.jurisdiction,
            request.received,
            request.deadline,
            status,
            _tokens(settings, request),
            load_key(settings).version,
            datetime.now(UTC),
            json.dumps(outcome, sort_keys=True),
        ],
    )


def access_export(settings: Settings, request: DataSubjectRequest) -> Path:
    """Every row about the person in every base table of the warehouse, as JSON."""
    con = connect(settings)
    try:
        person = resolve_person(con, request.identifiers)
        key = load_key(settings)
        tokens = {k: {token(v, k, key) for v in vs} for k, vs in person.values.items() if k != "name"}
        export: dict[str, list[dict]] = {}
        for table, columns in base_tables(con).items():
            # rows about the person; not other members' rows that merely name them as referrer
            deletes, _ = _conditions(columns, person, tokens)
            if not deletes:
                continue
            cur = con.execute(f"select * from {table} where {' or '.join(deletes)}")
            names = [d[0] for d in cur.description]
            rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
            if rows:
                export[table.replace('"', "")] = rows
    finally:
        con.close()
    target = settings.privacy_path / "access" / f"{request.request_id}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    body = {
        "request_id": request.request_id,
        "generated_at": datetime.now(UTC).isoformat(),
        "member_ids": sorted(person.member_ids),
        "tables": export,
    }
    target.write_text(json.dumps(body, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    return target


def withdraw_consent(settings: Settings, request: DataSubjectRequest, job: journal.Job) -> dict:
    """Record the withdrawal (idempotent per request), turn the mart's flags off, publish."""
    person = Person.from_json(job.intent["person"])
    if not job.done("optout"):
        con = connect(settings)
        try:
            ensure_tables(con)
            con.execute("delete from privacy.marketing_optouts where request_id = ?", [request.request_id])
            for member_id in sorted(person.member_ids):
                con.execute(
                    "insert into privacy.marketing_optouts values (?, ?, ?)",
                    [member_id, request.request_id, datetime.now(UTC)],
                )
            flags = [
                r[0]
                for r in con.execute(
                    "select column_name from information_schema.columns where table_schema = 'marts' "
                    "and table_name = 'mart_member_360' and column_name like 'has_consent_marketing%'"
                ).fetchall()
            ]
            if flags and person.member_ids:
                con.execute(
                    f"update marts.mart_member_360 set {', '.join(f'{_q(f)} = false' for f in flags)} "
                    f"where member_id in (select unnest(?::varchar[]))",
                    [sorted(person.member_ids)],
                )
        finally:
            con.close()
        job.mark("optout")
    if not job.done("publish"):
        job.mark("publish", republished=republish(settings))
    return {
        "members": len(person.member_ids),
        "answer": "withdrawn" if person.member_ids else "no data held",
        "republished": job.facts("publish")["republished"],
    }


def open_job(settings: Settings, request: DataSubjectRequest) -> journal.Job | None:
    """The journaled job of a destructive request (erasure, consent withdrawal); None for access."""
    if request.type == "erasure":
        return open_erasure(settings, request.identifiers, request.request_id)
    if request.type == "consent_withdrawal":

        def intent() -> dict:
            con = connect(settings)
            try:
                return {"person": resolve_person(con, request.identifiers).to_json()}
            finally:
                con.close()

        return journal.open_job(settings, "consent_withdrawal", request.request_id, intent)
    return None


def process_request(settings: Settings, request: DataSubjectRequest, job: journal.Job | None = None) -> dict:
    if request.type == "erasure":
        result = erase(settings, request.identifiers, request.request_id, suppress=request.suppress or None, job=job)
        outcome = {
            "answer": "erased" if result.data_held else "no data held",
            "members": result.member_count,
            "rows_removed": result.rows_removed,
            "tables": len(result.tables),
            "free_text_redacted": sum(result.text_redacted.values()),
            "suppression_tokens_added": result.suppressed_tokens,
            # the registry holds models, not member rows; any file listed here needs a look
            "model_files_holding_person": result.model_files_holding_person,
            "resumed_after_a_kill": result.resumed,
        }
    elif request.type == "access":
        path = access_export(settings, request)
        outcome = {"export": path.name, "bytes": path.stat().st_size}
    else:
        outcome = withdraw_consent(settings, request, job)
    return outcome


def _finished(settings: Settings) -> set[str]:
    con = connect(settings)
    try:
        ensure_tables(con)
        return {r[0] for r in con.execute("select request_id from privacy.requests where status = 'done'").fetchall()}
    finally:
        con.close()


def process_inbox(settings: Settings) -> tuple[list[dict], list[str]]:
    """Process every request in the inbox not done yet; returns (processed, problems).

    A destructive request runs as a journaled job: after a kill, the same call finishes
    it. It is marked done (status row, audit entry, request file deleted, journal removed,
    in that order) only once every step is done and verified."""
    requests, problems = read_inbox(settings.requests_path)
    done = []
    finished = _finished(settings)
    for request in requests:
        if request.request_id in finished:
            for kind in ("erasure", "consent_withdrawal"):  # killed after it was recorded
                journal.journal_path(settings, kind, request.request_id).unlink(missing_ok=True)
            problems.append(f"{request.path.name}: request {request.request_id} was already done; file removed")
            request.path.unlink(missing_ok=True)
            continue
        job = None
        try:
            job = open_job(settings, request)
            outcome = process_request(settings, request, job)
            status = "done"
        except Exception as exc:  # recorded, never lost: the file and the journal stay for a retry
            outcome, status = {"error": f"{type(exc).__name__}: {exc}"}, "failed"
            problems.append(f"{request.path.name}: {outcome['error']}")
        audit.record(
            settings,
            f"request_{request.type}",
            request.request_id,
            {
                "status": status,
                "jurisdiction": request.jurisdiction,
                "received": str(request.received),
                "deadline": str(request.deadline),
                "identifier_tokens": _tokens(settings, request),
                **outcome,
            },
        )
        con = connect(settings)
        try:
            ensure_tables(con)
            _record(settings, con, request, status, outcome)
        finally:
            con.close()
        if status == "done":
            request.path.unlink(missing_ok=True)
            if job is not None:
                job.finish()
        done.append({"request_id": request.request_id, "type": request.type, "status": status, **outcome})
    return done, problems


def list_requests(settings: Settings, today: date | None = None) -> list[dict]:
    """Tracked requests (warehouse) plus those still waiting in the inbox, with days left."""
    today = today or date.today()
    rows: dict[str, dict] = {}
    if settings.warehouse.exists():
        con = connect(settings)
        try:
            ensure_tables(con)
            cur = con.execute(
                "select request_id, request_type, jurisdiction, received_on, deadline, status, "
                "processed_at from privacy.requests order by deadline"
            )
            names = [d[0] for d in cur.description]
            for r in cur.fetchall():
                rows[r[0]] = dict(zip(names, r, strict=True))
        finally:
            con.close()
    pending, _ = read_inbox(settings.requests_path)
    for req in pending:
        if req.request_id not in rows or rows[req.request_id]["status"] != "done":
            rows[req.request_id] = {
                "request_id": req.request_id,
                "request_type": req.type,
                "jurisdiction": req.jurisdiction,
                "received_on": req.received,
                "deadline": req.deadline,
                "status": rows.get(req.request_id, {}).get("status", "open"),
                "processed_at": None,
            }
    out = sorted(rows.values(), key=lambda r: (r["status"] == "done", r["deadline"]))
    for r in out:
        r["days_left"] = (r["deadline"] - today).days if r["status"] != "done" else None
        r["overdue"] = r["status"] != "done" and r["deadline"] < today
    return out
