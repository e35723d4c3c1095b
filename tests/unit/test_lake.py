"""The lake mirrors the raw tables as one Parquet file per dlt load, and follows them:
new loads are written, loads whose rows changed (a cross-row rule, an erasure, a purge)
are rewritten, emptied loads are removed, and an unchanged table costs no write."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from ingestion.lake import sync_lake
from mallcrm.core.settings import load_settings


@pytest.fixture
def warehouse(tmp_path) -> tuple:
    settings = replace(load_settings({}), warehouse=tmp_path / "w" / "mallcrm.duckdb", engine="spark")
    settings.warehouse.parent.mkdir(parents=True)
    con = duckdb.connect(str(settings.warehouse))
    con.execute("create schema raw_pos")
    con.execute(
        "create table raw_pos.transactions (transaction_id varchar, member_mobile varchar, "
        "net_amount decimal(12, 2), transaction_at timestamptz, _dlt_load_id varchar)"
    )
    con.execute(
        "insert into raw_pos.transactions values "
        "('T1', '13800000001', 10.50, '2026-05-20 10:00:00+00', '100.1'),"
        "('T2', '13800000002', 20.00, '2026-05-20 11:00:00+00', '100.1'),"
        "('T3', '13800000003', 30.00, '2026-05-21 09:00:00+00', '200.2')"
    )
    con.execute("create table raw_pos._dlt_loads (load_id varchar)")  # dlt's own: not mirrored
    con.close()
    return settings


def _files(settings) -> dict[str, Path]:
    folder = Path(settings.lake_url) / "raw_pos" / "transactions"
    return {p.stem: p for p in sorted(folder.glob("*.parquet"))}


def _ids(path: Path) -> list[str]:
    return sorted(pq.read_table(path).column("transaction_id").to_pylist())


def test_each_load_becomes_one_parquet_file_with_the_raw_rows(warehouse):
    sync = sync_lake(warehouse, ["pos"])
    files = _files(warehouse)
    assert list(files) == ["100.1", "200.2"]
    assert _ids(files["100.1"]) == ["T1", "T2"] and _ids(files["200.2"]) == ["T3"]
    table = pq.read_table(files["100.1"])
    assert str(table.schema.field("net_amount").type) == "decimal128(12, 2)"
    assert table.schema.field("transaction_at").type.tz is not None  # instants stay instants
    assert sync.written == {"raw_pos.transactions": ["100.1", "200.2"]}
    assert not (Path(warehouse.lake_url) / "raw_pos" / "_dlt_loads").exists()


def test_a_second_sync_with_nothing_new_writes_nothing(warehouse):
    sync_lake(warehouse, ["pos"])
    before = {name: path.stat().st_mtime_ns for name, path in _files(warehouse).items()}
    again = sync_lake(warehouse, ["pos"])
    assert again.changed_tables == []
    assert {name: path.stat().st_mtime_ns for name, path in _files(warehouse).items()} == before


def test_deleted_rows_leave_the_lake_and_only_their_load_is_rewritten(warehouse):
    sync_lake(warehouse, ["pos"])
    untouched = _files(warehouse)["200.2"].stat().st_mtime_ns
    con = duckdb.connect(str(warehouse.warehouse))
    con.execute("delete from raw_pos.transactions where transaction_id = 'T2'")  # e.g. an erasure
    con.close()
    sync = sync_lake(warehouse, ["pos"])
    assert sync.written == {"raw_pos.transactions": ["100.1"]}
    files = _files(warehouse)
    assert _ids(files["100.1"]) == ["T1"]
    assert files["200.2"].stat().st_mtime_ns == untouched
    raw = b"".join(p.read_bytes() for p in files.values())
    assert b"13800000002" not in raw  # the erased mobile is gone from every file


def test_a_load_whose_rows_are_all_gone_is_removed(warehouse):
    sync_lake(warehouse, ["pos"])
    con = duckdb.connect(str(warehouse.warehouse))
    con.execute("delete from raw_pos.transactions where _dlt_load_id = '200.2'")  # e.g. a retention purge
    con.close()
    sync = sync_lake(warehouse, ["pos"])
    assert sync.removed == {"raw_pos.transactions": ["200.2"]}
    assert list(_files(warehouse)) == ["100.1"]


def test_a_killed_sync_is_finished_by_the_next_one(warehouse, monkeypatch):
    import ingestion.lake as lake

    calls = []
    real = lake._write_load

    def dies_after_one(*args):
        if calls:
            raise KeyboardInterrupt("killed")
        calls.append(args)
        return real(*args)

    monkeypatch.setattr(lake, "_write_load", dies_after_one)
    with pytest.raises(KeyboardInterrupt):
        sync_lake(warehouse, ["pos"])
    monkeypatch.setattr(lake, "_write_load", real)
    sync = sync_lake(warehouse, ["pos"])  # the manifest was not written: both loads again
    assert sorted(sync.written["raw_pos.transactions"]) == ["100.1", "200.2"]
    assert [_ids(p) for p in _files(warehouse).values()] == [["T1", "T2"], ["T3"]]
    assert not list(Path(warehouse.lake_url).rglob(".*.tmp"))
