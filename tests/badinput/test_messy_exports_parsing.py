"""Messy real exports (parsing): handled with a named reason, never silently absorbed.

Multi-line quoted fields, files from the future, mixed and foreign encodings, NUL bytes,
lossy casts. Every case keeps the accounting exact: rows in the file = loaded +
quarantined, and a quarantined row names its file, its (first physical) line and a rule.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, date, datetime

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ingestion.parsing import count_lines, parse_batch
from mallcrm.core.contract import load_contract, match_file
from tests.unit.test_parsing import LOADED_AT, TIMEZONE, member, parse, sale, write_csv

TX = "pos/transactions_20260101.csv"
COMPLAINT = {
    "complaint_id": "C1",
    "member_id": "M0000001",
    "store_id": "S001",
    "category": "service_attitude",
    "severity": "normal",
    "channel": "hotline",
    "opened_at": "2026-01-01 10:00:00",
    "first_response_at": "2026-01-01 11:00:00",
    "resolved_at": "",
    "follow_up_at": "",
    "escalated": "false",
    "compensation_amount": "0.00",
    "status": "open",
    "description": "店员态度不好",
    "updated_at": "2026-01-01 11:00:00",
}


def complaint(**over) -> dict:
    return {**COMPLAINT, **over}


def quarantine(parsed) -> dict[int, dict]:
    return {r["source_line"]: r for r in parsed.quarantine.to_pylist()}


def assert_nothing_lost(parsed) -> None:
    assert parsed.rows_loaded + parsed.rows_quarantined == parsed.rows_in_file


def _matched(inbox, path):
    matched = match_file(inbox, path, load_contract())
    assert not isinstance(matched, str), matched
    return matched


def _multi_line_complaints(inbox, relpath="feedback/complaints_20260101.csv"):
    """Records: C1 (line 2), C2 over lines 3-5 (LF and CRLF inside quotes), C3 with U+2028
    (line 6), C4 with a bad amount (line 7), C5 over lines 8-9 with a bad amount, C6 (line 10)."""
    rows = [
        complaint(complaint_id="C1"),
        complaint(complaint_id="C2", description="第一行\n第二行\r\n第三行"),
        complaint(complaint_id="C3", description="行\u2028分隔"),
        complaint(complaint_id="C4", compensation_amount="abc"),
        complaint(complaint_id="C5", description="two\nlines", compensation_amount="xyz"),
        complaint(complaint_id="C6"),
    ]
    return write_csv(inbox, relpath, rows)


# ----------------------------------------------------------------------------- 1. multi-line records


def test_quoted_multi_line_field_loads_with_first_line_numbers(tmp_path):
    path = _multi_line_complaints(tmp_path)
    parsed = parse(tmp_path, path)
    assert parsed.status == "loaded", parsed.reason
    assert parsed.rows_in_file == 6
    assert_nothing_lost(parsed)
    rows = {r["complaint_id"]: r for r in parsed.rows.to_pylist()}
    assert {k: v["_source_line"] for k, v in rows.items()} == {"C1": 2, "C2": 3, "C3": 6, "C6": 10}
    assert rows["C2"]["description"] == "第一行\n第二行\r\n第三行"
    assert rows["C3"]["description"] == "行\u2028分隔"
    bad = quarantine(parsed)
    assert sorted(bad) == [7, 8]
    assert bad[7]["rule"] == "parse:cast" and "complaints_20260101.csv line 7" in bad[7]["reason"]
    assert bad[8]["rule"] == "parse:cast" and "complaints_20260101.csv line 8" in bad[8]["reason"]
    assert "two\nlines" in bad[8]["raw_record"]
    assert count_lines(_matched(tmp_path, path)) == 6  # records, the same count the parse makes


def test_multi_line_file_next_to_other_files_loses_nothing(tmp_path):
    multi = _multi_line_complaints(tmp_path)
    plain = write_csv(tmp_path, "feedback/complaints_20260102.csv", [complaint(complaint_id="C7")])
    batch = parse_batch([_matched(tmp_path, multi), _matched(tmp_path, plain)], LOADED_AT, TIMEZONE)
    outcomes = {o.file.relpath: o for o in batch.outcomes}
    assert [o.status for o in outcomes.values()] == ["loaded", "loaded"]
    multi_outcome = outcomes["feedback/complaints_20260101.csv"]
    assert (multi_outcome.rows_in_file, multi_outcome.rows_loaded, multi_outcome.rows_quarantined) == (6, 4, 2)
    assert outcomes["feedback/complaints_20260102.csv"].rows_loaded == 1
    loaded = sorted((r["_source_file"][-12:], r["_source_line"]) for r in batch.rows.to_pylist())
    assert loaded == [("20260101.csv", 2), ("20260101.csv", 3), ("20260101.csv", 6), ("20260101.csv", 10)] + [
        ("20260102.csv", 2)
    ]
    assert batch.quarantine.num_rows == 2


@pytest.mark.integration
def test_multi_line_file_does_not_stop_the_ingest_run(fresh_mall):
    """As reported: a loaded mall, one new multi-line file dropped in the inbox, `ingest`.
    The file loads (alone in its scan it used to crash the run with "rows do not align
    with lines"), and the systems ingested after feedback still load their new files."""
    from pipeline import steps

    settings = fresh_mall
    steps.ingest(settings)
    name = "feedback/complaints_20260704.csv"
    _multi_line_complaints(settings.inbox, name)
    zone = {"zone_id": "Z99", "zone_name": "新区", "floor": "L9", "zone_type": "retail", "snapshot_date": "2026-07-04"}
    write_csv(settings.inbox, "reference/zones_20260704.csv", [zone])
    report = steps.ingest(settings)
    by_file = {f["source_file"]: f for f in report.files}
    assert set(by_file) == {name, "reference/zones_20260704.csv"}
    ours = by_file[name]
    assert ours["status"] == "loaded"
    assert (ours["rows_in_file"], ours["rows_loaded"], ours["rows_quarantined"]) == (6, 4, 2)
    assert by_file["reference/zones_20260704.csv"]["rows_loaded"] == 1
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        lines = con.execute(
            "select _source_line from raw_feedback.complaints where _source_file = ? order by 1", [name]
        ).fetchall()
        assert [r[0] for r in lines] == [2, 3, 6, 10]
        quarantined = con.execute(
            "select source_line, rule from raw_feedback.quarantined_rows where source_file = ? order by 1", [name]
        ).fetchall()
        assert quarantined == [(7, "parse:cast"), (8, "parse:cast")]
        assert con.execute("select count(*) from raw_reference.zones where zone_id = 'Z99'").fetchone() == (1,)
    finally:
        con.close()


# ----------------------------------------------------------------------------- 4. the future


def test_file_dated_in_the_future_is_quarantined_not_loaded(tmp_path):
    # LOADED_AT is 2026-01-02 00:00 UTC (08:00 in the mall): anything after 2026-01-03 08:00 local is the future.
    path = write_csv(
        tmp_path,
        "pos/transactions_20301231.csv",
        [sale(transaction_at="2030-12-31 10:00:00"), sale(transaction_id="T2")],
    )
    parsed = parse(tmp_path, path)
    assert parsed.rows_loaded == 0 and parsed.rows_quarantined == 2
    assert_nothing_lost(parsed)
    for row in parsed.quarantine.to_pylist():
        assert row["rule"] == "rule:export_day_not_after_load_time"
        assert "pos/transactions_20301231.csv line" in row["reason"] and "after the load time" in row["reason"]

    # a file of today holding a row from the future is caught by the load time too
    path = write_csv(tmp_path, "pos/transactions_20260102.csv", [sale(transaction_at="2026-01-03 09:00:00")])
    (row,) = parse(tmp_path, path).quarantine.to_pylist()
    assert row["rule"] == "rule:transaction_at_not_after_load_time"
    # ... while a sale just inside the tolerance (time zones) loads
    path = write_csv(tmp_path, "pos/transactions_20260102.csv", [sale(transaction_at="2026-01-02 23:00:00")])
    assert parse(tmp_path, path).rows_loaded == 1

    # UTC timestamps (surveys) and date-only snapshots are bounded as well
    survey = tmp_path / "feedback" / "surveys_20260101.jsonl"
    survey.parent.mkdir(parents=True, exist_ok=True)
    answer = {"response_id": "R1", "channel": "app", "submitted_at": "2030-01-01T00:00:00Z", "nps_score": 9}
    survey.write_text(json.dumps(answer) + "\n", encoding="utf-8")
    (row,) = parse(tmp_path, survey).quarantine.to_pylist()
    assert row["rule"] == "rule:submitted_at_not_after_load_time"
    zone = {
        "zone_id": "Z01",
        "zone_name": "正门",
        "floor": "L1",
        "zone_type": "entrance",
        "snapshot_date": "2030-12-31",
    }
    parsed = parse(tmp_path, write_csv(tmp_path, "reference/zones_20301231.csv", [zone]))
    assert parsed.rows_loaded == 0 and parsed.quarantine.to_pylist()[0]["rule"].endswith("not_after_load_time")


# ----------------------------------------------------------------------------- 6. encodings


def test_mixed_encoding_row_is_quarantined_with_reason(tmp_path):
    path = write_csv(
        tmp_path,
        TX,
        [sale(cashier_id="王小明"), sale(transaction_id="T2", cashier_id="李四"), sale(transaction_id="T4")],
        encoding="gbk",
    )
    lines = path.read_bytes().split(b"\n")
    utf8_row = ",".join(sale(transaction_id="T3", cashier_id="张三").values()).encode("utf-8")
    broken_row = ",".join(sale(transaction_id="T5").values()).encode("ascii") + b"\xff\xff"
    path.write_bytes(b"\n".join([*lines[:3], utf8_row, *lines[3:4], broken_row]) + b"\n")
    parsed = parse(tmp_path, path)
    assert parsed.encoding == "gbk" and parsed.rows_in_file == 5
    assert_nothing_lost(parsed)
    assert [(r["transaction_id"], r["cashier_id"]) for r in parsed.rows.to_pylist()] == [
        ("T1", "王小明"),
        ("T2", "李四"),
        ("T4", "C1"),
    ]
    bad = quarantine(parsed)
    assert bad[4]["rule"] == "encoding" and "row is UTF-8 in a GBK file" in bad[4]["reason"]
    assert f"{TX} line 4" in bad[4]["reason"] and "张三" in bad[4]["raw_record"]
    assert bad[6]["rule"] == "encoding" and "bytes not valid in gbk" in bad[6]["reason"]
    assert "\\xff" in bad[6]["raw_record"]


def test_encoding_not_allowed_for_the_entity_is_refused(tmp_path):
    row = member()
    path = write_csv(tmp_path, "membership/members_20260101.csv", [row, {**row, "member_id": "M2"}], encoding="gbk")
    parsed = parse(tmp_path, path)
    assert parsed.status == "refused"
    assert "file is GBK" in parsed.reason and "the contract allows utf-8 for membership/members" in parsed.reason
    assert parsed.rows_quarantined == 2 and {r["rule"] for r in parsed.quarantine.to_pylist()} == {"encoding"}
    assert "王小明" in parsed.quarantine.to_pylist()[0]["raw_record"]  # readable, decoded as what it is


# ----------------------------------------------------------------------------- 7. silent values


def test_nul_byte_in_field_is_quarantined(tmp_path):
    path = write_csv(tmp_path, TX, [sale(), sale(transaction_id="T2", cashier_id="C\x001"), sale(transaction_id="T3")])
    parsed = parse(tmp_path, path)
    assert_nothing_lost(parsed)
    assert [r["transaction_id"] for r in parsed.rows.to_pylist()] == ["T1", "T3"]
    (row,) = parsed.quarantine.to_pylist()
    assert row["source_line"] == 3 and row["rule"] == "nul_byte:cashier_id"
    assert "NUL byte" in row["reason"] and f"{TX} line 3" in row["reason"]
    assert "\\u0000" in row["raw_record"]  # kept, as written, for the data steward


def test_lossy_parquet_float_to_integer_is_quarantined(tmp_path):
    path = tmp_path / "sensors" / "wifi_dwell_20260101.parquet"
    path.parent.mkdir(parents=True)
    n = 3
    table = pa.table(
        {
            "device_hash": [c * 64 for c in "abc"],
            "zone_id": ["Z01"] * n,
            "visit_date": pa.array([date(2026, 1, 1)] * n),
            "first_seen_at": pa.array([datetime(2026, 1, 1, 10)] * n),
            "last_seen_at": pa.array([datetime(2026, 1, 1, 11)] * n),
            "dwell_minutes": pa.array([60.0, 60.7, 30.0], pa.float64()),
            "visits": [1, 1, 1],
        }
    )
    pq.write_table(table, path)
    parsed = parse(tmp_path, path)
    assert_nothing_lost(parsed)
    assert [r["dwell_minutes"] for r in parsed.rows.to_pylist()] == [60, 30]  # whole floats cast without loss
    (row,) = parsed.quarantine.to_pylist()
    assert row["source_line"] == 2 and row["rule"] == "lossy_cast:dwell_minutes"
    assert "60.7 is not an INTEGER" in row["reason"]


def test_utf16_without_bom_is_named(tmp_path):
    path = tmp_path / TX
    path.parent.mkdir(parents=True)
    with open(path, "w", encoding="utf-16-le", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(list(sale()))
        writer.writerow(list(sale().values()))
        writer.writerow(list(sale(transaction_id="T2").values()))
    parsed = parse(tmp_path, path)
    assert parsed.status == "refused"
    assert "looks like UTF-16 without a byte-order mark" in parsed.reason
    assert "the contract allows utf-8, gbk" in parsed.reason and "missing column" not in parsed.reason
    assert parsed.rows_in_file == 2 and parsed.rows_quarantined == 2
    assert parsed.quarantine.to_pylist()[0]["raw_record"].startswith("T1,sale")  # decoded for the steward
    assert LOADED_AT.tzinfo is UTC
