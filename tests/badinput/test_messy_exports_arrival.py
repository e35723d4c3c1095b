"""Messy arrivals of real exports: handled, never silently absorbed.

A file still being written is not read (contract `completeness:`, settle time or marker);
a file that changed after it was loaded is loaded again as a correction of itself, so no
row of the final file is lost and the bookkeeping stays exact; a file whose name or folder
fits no export is named by `mallcrm ingest` (exit 3) and `mallcrm doctor`; doctor shows
the day the analytics are computed as of.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta

import pytest
import yaml
from click.testing import CliRunner

from cli import exit_codes, main
from ingestion import pipeline, sources
from mallcrm.core import inbox
from mallcrm.core.contract import Completeness, load_contract, parse_completeness, parse_contract
from mallcrm.core.settings import EXPORT_FORMATS_FILE
from mallcrm.core.warehouse import connect
from pipeline import steps
from quality.health import health_report
from tests.conftest import cli_env, settings_for
from tests.unit.test_parsing import sale, write_csv

pytestmark = pytest.mark.integration

TX = "pos/transactions_20260101.csv"


def _ingest(settings):
    return steps.ingest(settings, systems=["pos"])


def _query(settings, sql: str) -> list[tuple]:
    con = connect(settings)  # the way the project opens it (dbt may hold the file in-process)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _age(path, seconds: float) -> None:
    """Set the file's modification time `seconds` in the past (negative: the future)."""
    stamp = time.time() - seconds
    os.utime(path, (stamp, stamp))


def _pos_completeness(monkeypatch, **completeness) -> None:
    """The real contract, with the pos system's `completeness:` set as a mall would."""
    raw = yaml.safe_load(EXPORT_FORMATS_FILE.read_text(encoding="utf-8"))
    raw["systems"]["pos"]["completeness"] = completeness
    contract = parse_contract(raw)
    for module in (inbox, sources, pipeline):
        monkeypatch.setattr(module, "load_contract", lambda *a, **k: contract)


def test_half_written_file_waits_until_complete(tmp_path, monkeypatch):
    # the default (contract): settle for 2 s; a file just written is waited for, not skipped
    assert load_contract().completeness("pos") == Completeness(mode="settle", seconds=2)
    quick = settings_for(tmp_path / "default")
    write_csv(quick.inbox, TX, [sale()])
    assert [f["status"] for f in _ingest(quick).files] == ["loaded"]

    # --- settle mode: a file is read once unchanged for the settle time
    _pos_completeness(monkeypatch, mode="settle", seconds=60)
    settings = settings_for(tmp_path / "settle")
    half = write_csv(settings.inbox, TX, [sale(), sale(transaction_id="T2")])  # the export job is writing
    first = _ingest(settings)
    assert first.files == [] and not first.needs_attention
    assert [w.split(":")[0] for w in first.waiting] == [TX] and "may still be being written" in first.waiting[0]

    _age(half, -3600)  # a modification time in the future (a skewed exporter clock) is not "old"
    ahead = _ingest(settings)
    assert ahead.files == [] and "in the future" in ahead.waiting[0]

    full = write_csv(settings.inbox, TX, [sale(), sale(transaction_id="T2"), sale(transaction_id="T3")])
    _age(full, 120)  # finished two minutes ago
    done = _ingest(settings)
    assert done.waiting == []
    assert [(f["source_file"], f["status"], f["rows_in_file"], f["rows_loaded"]) for f in done.files] == [
        (TX, "loaded", 3, 3)
    ]
    assert _query(settings, "select count(*) from raw_pos.transactions") == [(3,)]
    assert _query(settings, "select count(*) from raw_pos.ingested_files") == [(1,)]

    # --- marker mode: a file is read once <file>.done exists beside it
    _pos_completeness(monkeypatch, mode="marker", suffix=".done")
    marked = settings_for(tmp_path / "marker")
    path = write_csv(marked.inbox, TX, [sale()])
    _age(path, 3600)  # old, but not announced: still not read
    waiting = _ingest(marked)
    assert waiting.files == [] and waiting.waiting == [f"{TX}: waiting for its completion marker {path.name}.done"]
    (path.parent / f"{path.name}.done").write_text("", encoding="utf-8")
    loaded = _ingest(marked)
    assert [(f["source_file"], f["rows_loaded"]) for f in loaded.files] == [(TX, 1)]
    assert loaded.unmatched == [] and loaded.waiting == []  # the marker is not a misnamed file
    assert _ingest(marked).files == []

    # a completeness the code cannot honour is refused when the contract is read
    for bad in ({"mode": "sometimes"}, {"mode": "settle", "seconds": -1}, {"mode": "marker", "suffix": "done"}):
        with pytest.raises(ValueError, match="completeness"):
            parse_completeness(bad)


def test_file_that_grew_after_loading_is_a_correction_not_lost(tmp_path, monkeypatch):
    # Settle time 0: as if the first run read the file while the exporter paused.
    _pos_completeness(monkeypatch, mode="settle", seconds=0)
    settings = settings_for(tmp_path)
    rows = [sale(transaction_id=f"T{i}") for i in range(1, 6)]
    path = write_csv(settings.inbox, TX, rows)
    final = path.read_bytes()
    path.write_bytes(final[: final.index(b"T3") + 10])  # read while the export job was at row 3
    first = _ingest(settings)
    assert [(f["status"], f["rows_in_file"], f["rows_loaded"], f["rows_quarantined"]) for f in first.files] == [
        ("loaded", 3, 2, 1)
    ]

    path.write_bytes(final)  # the job finishes the file
    second = _ingest(settings)
    assert not second.needs_attention  # handled, not refused
    assert [(f["source_file"], f["status"], f["rows_in_file"], f["rows_loaded"]) for f in second.files] == [
        (TX, "loaded", 5, 5)
    ]
    assert [f["source_file"] for f in second.corrections] == [TX]
    assert "correction" in second.files[0]["reason"]

    # every row of the final file is in raw, in the file's latest load: staging keeps the
    # newest copy of a row by file version, then `_loaded_at` (macro newest_copy_first)
    latest = _query(
        settings,
        f"select transaction_id from raw_pos.transactions where _source_file = '{TX}' "
        "and _loaded_at = (select max(_loaded_at) from raw_pos.transactions) order by 1",
    )
    assert [r[0] for r in latest] == ["T1", "T2", "T3", "T4", "T5"]
    assert _query(settings, "select count(distinct _loaded_at) from raw_pos.transactions") == [(2,)]

    # the same bytes under another name: a duplicate, nothing stored, nothing counted as quarantined
    (settings.inbox / "pos/transactions_20260102.csv").write_bytes(final)
    dup = _ingest(settings)
    assert [(f["status"], f["rows_loaded"], f["rows_quarantined"]) for f in dup.files] == [("duplicate", 0, 0)]

    # bookkeeping is exact, record by record: what it counts is what is stored
    records = _query(
        settings,
        "select source_file, _dlt_load_id, status, rows_in_file, rows_loaded, rows_quarantined "
        "from raw_pos.ingested_files order by _dlt_load_id",
    )
    assert len(records) == 3
    for name, load_id, status, in_file, loaded, quarantined in records:
        stored = _query(
            settings,
            f"select (select count(*) from raw_pos.transactions where _source_file = '{name}' "
            f"and _dlt_load_id = '{load_id}'), (select count(*) from raw_pos.quarantined_rows "
            f"where source_file = '{name}' and _dlt_load_id = '{load_id}')",
        )[0]
        assert stored == (loaded, quarantined), name
        if status == "loaded":
            assert loaded + quarantined == in_file
    assert _query(settings, "select sum(rows_quarantined) from raw_pos.ingested_files") == _query(
        settings, "select count(*) from raw_pos.quarantined_rows"
    )
    assert _ingest(settings).files == []  # and a further run finds nothing new


def test_misnamed_files_are_listed_by_doctor_and_ingest_needs_attention(tmp_path):
    settings = settings_for(tmp_path)
    write_csv(settings.inbox, TX, [sale()])
    misnamed = [
        "pos/transactions_20261340.csv",  # month 13, day 40
        "pos/transaktions_20260101.csv",  # no such entity
        "erp/transactions_20260101.csv",  # no such system
    ]
    for name in misnamed:
        write_csv(settings.inbox, name, [sale()])

    result = CliRunner().invoke(main, ["ingest"], env=cli_env(settings))
    assert result.exit_code == exit_codes.REFUSED_INPUT, result.output
    assert "NOT READ 3 file(s)" in result.output
    for name in misnamed:
        assert name in result.output
    assert "is not a valid date" in result.output
    assert _query(settings, "select source_file from raw_pos.ingested_files") == [(TX,)]  # the rest was loaded

    report = health_report(settings, dagster_home=None, now=datetime.now(UTC))
    for name in misnamed:
        assert any(name in line for line in report.lines)
        assert any(name in p for p in report.problems)

    doctor = CliRunner().invoke(main, ["doctor"], env=cli_env(settings))
    assert doctor.exit_code == exit_codes.FAILED and "inbox files not processed" in doctor.output
    assert "pos/transactions_20261340.csv" in doctor.output


def test_doctor_shows_the_as_of_date(built_mall):
    settings, _, ok = built_mall
    assert ok
    ((as_of,),) = _query(settings, "select max(as_of_date) from marts.mart_member_360")
    now = datetime.now(UTC)
    assert as_of <= now.date()
    report = health_report(settings, dagster_home=None, now=now)
    assert "== as-of date of the analytics" in report.text
    assert f"member marts are computed as of {as_of}" in report.text
    assert not report.warnings

    # seen on a day before it (as after a future-dated receipt moved it): a warning
    earlier = datetime.combine(as_of - timedelta(days=3), datetime.min.time(), tzinfo=UTC)
    future = health_report(settings, dagster_home=None, now=earlier)
    assert len(future.warnings) == 1 and f"as-of date {as_of} is after today" in future.warnings[0]
    assert "WARNING(S)" in future.text
