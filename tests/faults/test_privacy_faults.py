"""Destructive privacy jobs killed at several points, then run again.

An erasure and a consent withdrawal (`mallcrm privacy requests --process`) and a
retention purge (`mallcrm privacy purge`) are each started as a child process and killed
with SIGKILL at several points of their journal (privacy/journal.py): as soon as the
intent is written, and after each of several steps. The same command is then run again. The end state must equal an
uninterrupted run's: every table (row counts and a checksum of every row), the suppression
list, no byte of the erased person in any file under the warehouse directory, the request
marked done only once it is true, and the audit entry counting what the killed run removed.
"""

from __future__ import annotations

import csv
import json
import shutil
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from mallcrm.core.warehouse import connect
from pipeline import steps
from privacy import audit, journal
from privacy.publish import role_file_path
from privacy.suppression import list_path
from tests.conftest import generate_mall, mall_environment, settings_for
from tests.faults.test_faults import TINY, _kill_when, _run, _start, fingerprint
from tests.integration.test_privacy_erasure import PERSON_SQL, files_holding, plant_mentions

pytestmark = pytest.mark.integration

ERASURE_ID = "ER-KILL"
# steps of the erasure journal after which the run is killed (0 = the intent only)
ERASURE_KILL_POINTS = (0, 1, 2, 4)
PURGE_KILL_POINTS = (1, 2)


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> dict:
    """A tiny mall, built and published, with other people's text naming one member."""
    root = tmp_path_factory.mktemp("privacy_fault_template")
    generate_mall(root / "inbox", **TINY)
    with mall_environment(root) as settings:
        steps.ingest(settings)
        assert steps.build(settings, quiet=True)
        steps.publish(settings)
        con = connect(settings)
        try:
            cols = ("member_id", "name", "mobile", "email", "card_no", "receipts")
            person = dict(zip(cols, con.execute(PERSON_SQL).fetchall()[0], strict=True))
        finally:
            con.close()
        planted = plant_mentions(settings, person)
    needles = [person[k] for k in ("name", "mobile", "email", "card_no")] + planted["variants"]
    return {"root": root, "person": person, "needles": needles}


def _copy(template: dict, target: Path) -> Path:
    shutil.copytree(template["root"], target, symlinks=True)
    return target


def _request(root: Path, person: dict) -> None:
    folder = settings_for(root).requests_path
    folder.mkdir(parents=True, exist_ok=True)
    body = {
        "request_id": ERASURE_ID,
        "type": "erasure",
        "identifiers": {"card_no": person["card_no"]},
        "received": "2026-11-03",
        "jurisdiction": "GDPR",
    }
    (folder / f"{ERASURE_ID}.json").write_text(json.dumps(body), encoding="utf-8")


def _journal(root: Path, kind: str, job_id: str) -> Path:
    return journal.journal_path(settings_for(root), kind, job_id)


def _steps_done(path: Path) -> list[str]:
    try:
        return list(json.loads(path.read_text(encoding="utf-8"))["steps"])
    except (FileNotFoundError, json.JSONDecodeError):
        return []


def _state(root: Path) -> dict:
    """Everything but the privacy bookkeeping (timestamps, 'resumed' flags) of the warehouse."""
    warehouse = root / "warehouse" / "mallcrm.duckdb"
    prints = fingerprint(warehouse)
    tables = {name: value for name, value in prints.items() if not name.startswith("privacy.")}
    with open(list_path(settings_for(root)), newline="", encoding="utf-8") as fh:
        suppressed = sorted((r["token"], r["pii_type"]) for r in csv.DictReader(fh))
    return {"tables": tables, "suppressed": suppressed}


def _request_status(root: Path) -> str | None:
    con = duckdb.connect(str(root / "warehouse" / "mallcrm.duckdb"), read_only=True)
    try:
        row = con.execute("select status from privacy.requests where request_id = ?", [ERASURE_ID]).fetchall()
        return row[0][0] if row else None
    finally:
        con.close()


@pytest.fixture(scope="module")
def erased_reference(tmp_path_factory, template) -> dict:
    root = _copy(template, tmp_path_factory.mktemp("erasure_reference") / "mall")
    _request(root, template["person"])
    done = _run(root, "privacy", "requests", "--process")
    assert done.returncode == 0, done.stdout + done.stderr
    return _state(root)


@pytest.mark.parametrize("kill_after", ERASURE_KILL_POINTS)
def test_an_erasure_killed_at_any_point_finishes_on_the_rerun(tmp_path, template, erased_reference, kill_after):
    root = _copy(template, tmp_path / "mall")
    _request(root, template["person"])
    path = _journal(root, "erasure", ERASURE_ID)
    process = _start(root, "privacy", "requests", "--process")
    _kill_when(process, lambda: path.exists() and len(_steps_done(path)) >= kill_after)
    killed_at = _steps_done(path)
    assert path.exists() and _request_status(root) != "done", killed_at  # not reported done while partial
    assert (settings_for(root).requests_path / f"{ERASURE_ID}.json").exists()

    again = _run(root, "privacy", "requests", "--process")
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"processed {ERASURE_ID} (erasure): done (erased)" in again.stdout
    assert not path.exists() and _request_status(root) == "done"
    assert _state(root) == erased_reference
    assert files_holding(root, template["needles"], skip=("inbox",)) == {}
    entry = [e for e in audit.read_entries(settings_for(root)) if e["action"] == "erasure"][-1]
    assert entry["details"]["resumed_after_a_kill"] is True and entry["details"]["members"] == 1
    assert entry["details"]["rows_removed"] > 0


def _purge_day(root: Path) -> date:
    """A day on which the tiny mall's Wi-Fi dwell (90 days) has expired, and little else."""
    con = duckdb.connect(str(root / "warehouse" / "mallcrm.duckdb"), read_only=True)
    try:
        last = con.execute("select max(cast(visit_date as date)) from raw_sensors.wifi_dwell").fetchall()[0][0]
    finally:
        con.close()
    return last + timedelta(days=91)


def _purge_state(root: Path) -> dict:
    warehouse = root / "warehouse" / "mallcrm.duckdb"
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        aggregates = con.execute(
            "select table_name, anchor_month, rows from privacy.retention_aggregates order by all"
        ).fetchall()
        dwell = con.execute("select count(*) from masked.msk_sensors__wifi_dwell").fetchall()[0][0]
    finally:
        con.close()
    entries = [e for e in audit.read_entries(settings_for(root)) if e["action"] == "retention_purge"]
    prints = {k: v for k, v in fingerprint(warehouse).items() if not k.startswith("privacy.")}
    return {
        "tables": prints,
        "aggregates": aggregates,
        "masked_dwell_rows": dwell,
        "rows_expired": entries[-1]["details"]["rows_expired"],
        "purge_entries": len(entries),
    }


@pytest.fixture(scope="module")
def purged_reference(tmp_path_factory, template) -> dict:
    root = _copy(template, tmp_path_factory.mktemp("purge_reference") / "mall")
    day = _purge_day(root)
    done = _run(root, "privacy", "purge", "--as-of", str(day))
    assert done.returncode == 0, done.stdout + done.stderr
    state = _purge_state(root)
    assert state["rows_expired"] > 0 and state["masked_dwell_rows"] == 0
    return state


@pytest.mark.parametrize("kill_after", PURGE_KILL_POINTS)
def test_a_purge_killed_at_any_point_finishes_on_the_rerun(tmp_path, template, purged_reference, kill_after):
    root = _copy(template, tmp_path / "mall")
    day = _purge_day(root)
    path = _journal(root, "retention_purge", str(day))
    process = _start(root, "privacy", "purge", "--as-of", str(day))
    _kill_when(process, lambda: len(_steps_done(path)) >= kill_after)
    assert path.exists(), _steps_done(path)

    check = _run(root, "check", "--layer", "raw")
    assert check.returncode == 1 and "unfinished privacy job retention_purge" in check.stdout, check.stdout

    again = _run(root, "privacy", "purge", "--as-of", str(day))
    assert again.returncode == 0, again.stdout + again.stderr
    assert "finished a purge a killed run had started" in again.stdout
    assert not path.exists()
    assert _purge_state(root) == purged_reference


WITHDRAWAL_ID = "CW-KILL"


def _withdrawal(root: Path, member_id: str) -> None:
    folder = settings_for(root).requests_path
    folder.mkdir(parents=True, exist_ok=True)
    body = {
        "request_id": WITHDRAWAL_ID,
        "type": "consent_withdrawal",
        "identifiers": {"member_id": member_id},
        "received": "2026-11-03",
        "jurisdiction": "PIPL",
    }
    (folder / f"{WITHDRAWAL_ID}.json").write_text(json.dumps(body), encoding="utf-8")


def _marketing_members(root: Path) -> list[str]:
    con = duckdb.connect(str(role_file_path(settings_for(root), "marketing")), read_only=True)
    try:
        return [r[0] for r in con.execute("select member_id from marts.mart_member_360 order by 1").fetchall()]
    finally:
        con.close()


@pytest.mark.parametrize("kill_after", (0, 1))
def test_a_consent_withdrawal_killed_at_any_point_finishes_on_the_rerun(tmp_path, template, kill_after):
    root = _copy(template, tmp_path / "mall")
    before = _marketing_members(root)
    assert before, "nobody in the tiny mall's marketing file"
    member = before[0]
    _withdrawal(root, member)
    path = _journal(root, "consent_withdrawal", WITHDRAWAL_ID)
    process = _start(root, "privacy", "requests", "--process")
    _kill_when(process, lambda: path.exists() and len(_steps_done(path)) >= kill_after)

    again = _run(root, "privacy", "requests", "--process")
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"processed {WITHDRAWAL_ID} (consent_withdrawal): done (withdrawn)" in again.stdout
    assert not path.exists()
    assert _marketing_members(root) == [m for m in before if m != member]
    con = duckdb.connect(str(root / "warehouse" / "mallcrm.duckdb"), read_only=True)
    try:
        optouts = con.execute("select member_id, request_id from privacy.marketing_optouts").fetchall()
    finally:
        con.close()
    assert optouts == [(member, WITHDRAWAL_ID)]  # recorded once, however often it ran
