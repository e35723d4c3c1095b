"""One read per entity: parsing many files of an entity together gives each file exactly
what parsing it alone gives (rows, quarantined rows with their file, line and rule)."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import pyarrow as pa
import pyarrow.parquet as pq

from ingestion.parsing import batches, parse_batch, parse_file
from mallcrm.core.contract import load_contract, match_file
from tests.unit.test_parsing import LOADED_AT, TIMEZONE, sale, write_csv


def _matched(inbox, path):
    matched = match_file(inbox, path, load_contract())
    assert not isinstance(matched, str), matched
    return matched


def _quarantine_keys(table: pa.Table) -> list[tuple]:
    return sorted((r["source_file"], r["source_line"], r["rule"], r["reason"]) for r in table.to_pylist())


def _rows(table: pa.Table | None) -> list[tuple]:
    if table is None:
        return []
    return sorted((r["_source_file"], r["_source_line"], r["transaction_id"]) for r in table.to_pylist())


def test_one_read_of_all_files_equals_file_by_file(tmp_path):
    days = [f"202512{d:02d}" for d in range(1, 8)]
    paths = []
    for i, day in enumerate(days):
        at = f"2025-12-{day[-2:]} 10:00:00"
        rows = [sale(transaction_id=f"T{day}{n}", transaction_at=at) for n in range(5)]
        rows[i % 5] = rows[i % 5] | {"transaction_type": "gift"}  # a row rule (known_transaction_type)
        rows[(i + 2) % 5] = rows[(i + 2) % 5] | {"points_redeemed": "1.5"}  # a lossy integer cast
        if i == 3:
            rows.append(sale(transaction_id=f"T{day}x", transaction_at=at, net_amount="abc"))  # not a decimal
        paths.append(write_csv(tmp_path, f"pos/transactions_{day}.csv", rows))
    files = [_matched(tmp_path, p) for p in paths]
    assert len(list(batches(files))) == 1  # an entity's new files are parsed in one read

    together = parse_batch(files, LOADED_AT, TIMEZONE)
    alone = [parse_file(f, LOADED_AT, TIMEZONE) for f in files]

    assert _quarantine_keys(together.quarantine) == sorted(k for a in alone for k in _quarantine_keys(a.quarantine))
    assert _rows(together.rows) == sorted(r for a in alone for r in _rows(a.rows))
    by_file = {o.file.relpath: o for o in together.outcomes}
    for a in alone:
        o = by_file[a.outcome.file.relpath]
        counts = (o.rows_in_file, o.rows_loaded, o.rows_quarantined)
        assert counts == (a.rows_in_file, a.rows_loaded, a.rows_quarantined)
        assert o.rows_loaded + o.rows_quarantined == o.rows_in_file
    # the right file and line: line 2 is the first data row (the header is line 1)
    rules = {(r["source_file"], r["source_line"]): r["rule"] for r in together.quarantine.to_pylist()}
    assert rules[("pos/transactions_20251201.csv", 2)] == "rule:known_transaction_type"
    assert rules[("pos/transactions_20251201.csv", 4)] == "lossy_cast:points_redeemed"
    assert rules[("pos/transactions_20251204.csv", 7)].startswith("parse:")  # net_amount abc


def _wifi_rows(day: str, n: int) -> list[dict]:
    d = date(int(day[:4]), int(day[4:6]), int(day[6:]))
    at = datetime(d.year, d.month, d.day, 10, 0, 0)
    return [
        {
            "device_hash": f"h{day}{i}",
            "zone_id": "Z01",
            "visit_date": d,
            "first_seen_at": at,
            "last_seen_at": at + timedelta(minutes=30),
            "dwell_minutes": 30,
            "visits": 1,
        }
        for i in range(n)
    ]


def test_parquet_files_read_together_keep_file_and_row(tmp_path):
    export = load_contract().get("sensors", "wifi_dwell")
    rows = {}
    for day in ("20251201", "20251202", "20251203"):
        rows[day] = [{c: r.get(c) for c in export.column_names} for r in _wifi_rows(day, 3)]
    # one file with its columns in another order: read by name
    paths = []
    for k, (day, day_rows) in enumerate(rows.items()):
        cols = export.column_names if k != 1 else list(reversed(export.column_names))
        table = pa.Table.from_pylist([{c: r[c] for c in cols} for r in day_rows])
        path = tmp_path / "sensors" / f"wifi_dwell_{day}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, path)
        paths.append(path)
    files = [_matched(tmp_path, p) for p in paths]
    together = parse_batch(files, LOADED_AT, TIMEZONE)
    alone = [parse_file(f, LOADED_AT, TIMEZONE) for f in files]

    def key(r: dict) -> tuple:
        return r["_source_file"], r["_source_line"], r["device_hash"]

    keys = sorted(key(r) for r in together.rows.to_pylist())
    expected = sorted(key(r) for a in alone for r in a.rows.to_pylist())
    assert keys == expected and len(keys) == 9
    assert ("sensors/wifi_dwell_20251202.parquet", 3, "h202512022") in keys
    assert _quarantine_keys(together.quarantine) == sorted(k for a in alone for k in _quarantine_keys(a.quarantine))


def test_jsonl_type_error_keeps_the_line_as_written(tmp_path):
    export = load_contract().get("feedback", "surveys")
    assert export.format == "jsonl"
    path = tmp_path / "feedback" / "surveys_20251201.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    int_cols = [c.name for c in export.columns if c.type == "INTEGER"]
    assert int_cols
    record = {c: None for c in export.column_names} | {int_cols[0]: "seven"}
    line = json.dumps(record)
    path.write_text(line + "\n", encoding="utf-8")
    parsed = parse_file(_matched(tmp_path, path), LOADED_AT, TIMEZONE)
    bad = parsed.quarantine.to_pylist()
    assert [(b["source_line"], b["rule"], b["raw_record"]) for b in bad] == [(1, f"type:{int_cols[0]}", line)]
