"""Parsing exports: every line ends up loaded or quarantined, with file, line and rule."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ingestion.parsing import parse_file
from mallcrm.core.contract import load_contract, match_file

LOADED_AT = datetime(2026, 1, 2, tzinfo=UTC)
TIMEZONE = "Asia/Shanghai"  # the mall's zone: exported local times are read in it (UTC+8)

GOOD_SALE = {
    "transaction_id": "T1",
    "transaction_type": "sale",
    "original_transaction_id": "",
    "store_id": "S001",
    "terminal_id": "P1",
    "member_card_no": "0012345678901234",
    "member_mobile": "",
    "transaction_at": "2026-01-01 10:00:00",
    "gross_amount": "120.00",
    "discount_amount": "20.00",
    "coupon_code": "",
    "points_redeemed": "0",
    "net_amount": "100.00",
    "payment_method": "wechat_pay",
    "cashier_id": "C1",
}


def write_csv(
    inbox: Path, relpath: str, rows: list[dict], header: list[str] | None = None, encoding: str = "utf-8"
) -> Path:
    path = inbox / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    header = header or list(rows[0])
    with open(path, "w", encoding=encoding, newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow([row.get(c, "") for c in header])
    return path


def parse(inbox: Path, path: Path):
    matched = match_file(inbox, path, load_contract())
    assert not isinstance(matched, str), matched
    return parse_file(matched, LOADED_AT, TIMEZONE)


def sale(**over) -> dict:
    return {**GOOD_SALE, **over}


def member(**over) -> dict:
    """A valid membership/members row (every contract column), with `over` changed or added."""
    row = {c: "" for c in load_contract().get("membership", "members").column_names}
    row.update(
        member_id="M1",
        card_no="1",
        name="王小明",
        mobile="13800001111",
        country_code="CN",
        registration_channel="app",
        registered_at="2025-01-01 10:00:00",
        tier="basic",
        status="active",
        updated_at="2025-01-01 10:00:00",
    )
    row.update(over)
    return row


def test_valid_rows_load_typed_with_lineage(tmp_path):
    path = write_csv(tmp_path, "pos/transactions_20260101.csv", [sale(), sale(transaction_id="T2")])
    parsed = parse(tmp_path, path)
    assert parsed.status == "loaded"
    assert parsed.rows_loaded == 2 and parsed.rows_quarantined == 0
    rows = parsed.rows.to_pylist()
    # card numbers keep their leading zeros: columns are declared, never inferred
    assert rows[0]["member_card_no"] == "0012345678901234"
    assert str(rows[0]["net_amount"]) == "100.00"
    assert [r["_source_line"] for r in rows] == [2, 3]
    assert rows[0]["_source_file"] == "pos/transactions_20260101.csv"
    # mall-local 10:00 is 02:00 UTC
    assert rows[0]["transaction_at"] == datetime(2026, 1, 1, 2, 0, tzinfo=UTC)


def test_local_times_are_read_in_the_given_time_zone(tmp_path):
    path = write_csv(tmp_path, "pos/transactions_20260101.csv", [sale()])
    matched = match_file(tmp_path, path, load_contract())
    (row,) = parse_file(matched, LOADED_AT, "Europe/Berlin").rows.to_pylist()
    assert row["transaction_at"] == datetime(2026, 1, 1, 9, 0, tzinfo=UTC)  # 10:00 CET


def test_every_bad_row_is_quarantined_with_line_and_rule(tmp_path):
    rows = [
        sale(transaction_id="T1"),
        sale(transaction_id="T2", gross_amount="abc"),
        sale(transaction_id="T3", net_amount="-5.00"),
        sale(transaction_id="T4", payment_method="bitcoin"),
        sale(transaction_id="T5", store_id=""),
        sale(transaction_id="T6"),
    ]
    path = write_csv(tmp_path, "pos/transactions_20260101.csv", rows)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write("T7,sale,,S001,P1,,,2026-01-01 10:00:00,1,0,,0,1,cash,C1,surplus\n")
    parsed = parse(tmp_path, path)
    assert parsed.rows_in_file == 7
    assert parsed.rows_loaded + parsed.rows_quarantined == parsed.rows_in_file
    assert [r["transaction_id"] for r in parsed.rows.to_pylist()] == ["T1", "T6"]
    q = {r["source_line"]: r for r in parsed.quarantine.to_pylist()}
    assert q[3]["rule"] == "parse:cast" and "gross_amount" in q[3]["reason"]
    assert q[4]["rule"] == "rule:sale_amount_not_negative"
    assert q[5]["rule"] == "rule:known_payment_method"
    assert q[6]["rule"] == "required:store_id"
    assert q[8]["rule"] == "parse:too_many_columns"
    assert all("pos/transactions_20260101.csv line" in r["reason"] for r in q.values())
    assert "surplus" in q[8]["raw_record"]


def test_gbk_file_loads_chinese_text(tmp_path):
    store = {
        "store_id": "S001",
        "store_name": "优衣库",
        "tenant_name": "迅销（中国）商贸有限公司",
        "category": "fashion",
        "floor": "L2",
        "zone_id": "Z03",
        "area_sqm": "820.5",
        "opened_on": "2019-05-01",
        "closed_on": "",
        "snapshot_date": "2026-01-01",
    }
    path = write_csv(tmp_path, "reference/stores_20260101.csv", [store], encoding="gbk")
    with pytest.raises(UnicodeDecodeError):
        path.read_bytes().decode("utf-8")
    parsed = parse(tmp_path, path)
    assert parsed.encoding == "gbk"
    assert parsed.rows.to_pylist()[0]["store_name"] == "优衣库"


def test_byte_order_mark_is_accepted(tmp_path):
    path = write_csv(tmp_path, "pos/transactions_20260101.csv", [sale()], encoding="utf-8-sig")
    parsed = parse(tmp_path, path)
    assert parsed.encoding == "utf-8-sig" and parsed.rows_loaded == 1


def test_unannounced_member_column_refuses_the_file(tmp_path):
    member_row = member(name="张三", id_card_no="110101199003071234")
    path = write_csv(tmp_path, "membership/members_20260101.csv", [member_row])
    parsed = parse(tmp_path, path)
    assert parsed.status == "refused"
    assert "id_card_no" in parsed.reason and "personal data" in parsed.reason
    assert parsed.rows_loaded == 0 and parsed.rows_quarantined == 1


def test_missing_column_refuses_the_file(tmp_path):
    header = [c for c in GOOD_SALE if c != "payment_method"]
    path = write_csv(tmp_path, "pos/transactions_20260101.csv", [sale(), sale()], header=header)
    parsed = parse(tmp_path, path)
    assert parsed.status == "refused" and "payment_method" in parsed.reason
    assert parsed.rows_quarantined == 2


def test_empty_file_is_refused_not_crashing(tmp_path):
    path = tmp_path / "pos" / "transactions_20260101.csv"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"")
    parsed = parse(tmp_path, path)
    assert parsed.status == "refused" and "empty" in parsed.reason


def test_jsonl_surveys_convert_utc_and_quarantine_bad_lines(tmp_path):
    path = tmp_path / "feedback" / "surveys_20260101.jsonl"
    path.parent.mkdir(parents=True)
    lines = [
        {"response_id": "R1", "channel": "wechat", "submitted_at": "2026-01-01T02:00:00Z", "nps_score": 9},
        {"response_id": "R2", "channel": "kiosk", "submitted_at": "2026-01-01T02:00:00Z", "nps_score": 11},
    ]
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n{broken\n", encoding="utf-8")
    parsed = parse(tmp_path, path)
    assert parsed.rows_loaded == 1 and parsed.rows_quarantined == 2
    rules = {r["source_line"]: r["rule"] for r in parsed.quarantine.to_pylist()}
    assert rules == {2: "rule:nps_in_range", 3: "parse:invalid_json"}


def test_parquet_types_are_checked(tmp_path):
    path = tmp_path / "sensors" / "wifi_dwell_20260101.parquet"
    path.parent.mkdir(parents=True)
    table = pa.table(
        {
            "device_hash": ["a" * 64, "b" * 64],
            "zone_id": ["Z01", "Z02"],
            "visit_date": pa.array([datetime(2026, 1, 1).date()] * 2),
            "first_seen_at": pa.array([datetime(2026, 1, 1, 10), datetime(2026, 1, 1, 12)]),
            "last_seen_at": pa.array([datetime(2026, 1, 1, 11), datetime(2026, 1, 1, 11)]),
            "dwell_minutes": [60, 30],
            "visits": [1, 1],
        }
    )
    pq.write_table(table, path)
    parsed = parse(tmp_path, path)
    assert parsed.rows_loaded == 1
    assert parsed.quarantine.to_pylist()[0]["rule"] == "rule:seen_in_order"


def test_file_names_outside_the_contract_are_explained(tmp_path):
    contract = load_contract()
    for rel, expected in [
        ("pos/transactions_2026011.csv", "does not match"),
        ("pos/loyalty_20260101.csv", "no export format"),
        ("pos/transactions_20261301.csv", "not a valid date"),
        ("transactions_20260101.csv", "directly under the inbox"),
        ("pos/transactions_20260101.jsonl", "exported as .csv"),
    ]:
        path = tmp_path / rel
        assert expected in match_file(tmp_path, path, contract)


def test_integers_that_only_cast_by_rounding_are_quarantined(tmp_path):
    """CSV and JSON lines alike: 60.7 is not an INTEGER (DuckDB alone would store 61)."""
    rows = [sale(), sale(transaction_id="T2", points_redeemed="60.7"), sale(transaction_id="T3", points_redeemed="7.0")]
    rows.append(sale(transaction_id="T4", points_redeemed="many"))
    parsed = parse(tmp_path, write_csv(tmp_path, "pos/transactions_20260101.csv", rows))
    assert [(r["transaction_id"], r["points_redeemed"]) for r in parsed.rows.to_pylist()] == [("T1", 0), ("T3", 7)]
    q = {r["source_line"]: r for r in parsed.quarantine.to_pylist()}
    assert q[3]["rule"] == "lossy_cast:points_redeemed" and "60.7 is not an INTEGER" in q[3]["reason"]
    assert "T2" in q[3]["raw_record"]
    assert q[5]["rule"] == "parse:cast" and "points_redeemed" in q[5]["reason"]
    assert parsed.rows_loaded + parsed.rows_quarantined == parsed.rows_in_file == 4

    path = tmp_path / "feedback" / "surveys_20260101.jsonl"
    path.parent.mkdir(parents=True)
    answer = {"response_id": "R1", "channel": "app", "submitted_at": "2026-01-01T02:00:00Z", "nps_score": 9.5}
    path.write_text(json.dumps(answer) + "\n", encoding="utf-8")
    (row,) = parse(tmp_path, path).quarantine.to_pylist()
    assert row["rule"] == "lossy_cast:nps_score" and "9.5 is not an INTEGER" in row["reason"]


def test_empty_lines_and_stray_quotes_keep_lines_aligned(tmp_path):
    path = write_csv(tmp_path, "pos/transactions_20260101.csv", [sale(cashier_id='5" tv'), sale(transaction_id="T2")])
    lines = path.read_bytes().split(b"\n")
    path.write_bytes(b"\n".join([*lines[:2], b"", *lines[2:]]))  # an empty line between the two sales
    parsed = parse(tmp_path, path)
    assert parsed.rows_in_file == parsed.rows_loaded == 2
    assert [(r["cashier_id"], r["_source_line"]) for r in parsed.rows.to_pylist()] == [('5" tv', 2), ("C1", 4)]


def test_line_separators_inside_json_strings_are_not_line_breaks(tmp_path):
    path = tmp_path / "feedback" / "surveys_20260101.jsonl"
    path.parent.mkdir(parents=True)
    answer = {"response_id": "R1", "channel": "app", "submitted_at": "2026-01-01T02:00:00Z", "nps_score": 9}
    path.write_text(json.dumps({**answer, "comment": "好\u2028评"}, ensure_ascii=False) + "\n", encoding="utf-8")
    parsed = parse(tmp_path, path)
    assert parsed.rows_in_file == parsed.rows_loaded == 1
    assert parsed.rows.to_pylist()[0]["comment"] == "好\u2028评"
