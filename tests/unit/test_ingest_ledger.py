"""The ledger's shortcuts keep its guarantees.

- A file whose size and modification time match what an earlier run hashed, and whose
  ledger record holds that hash, is not read again; a file rewritten since is hashed
  again and loaded as a correction of itself (ingestion.sources.FileHashes).
- The cross-row rules judge only the rows tied to newly loaded ones
  (`cross_rules_scope:`), with the same result as judging the whole history.
"""

from __future__ import annotations

import os
import time

import pytest

from ingestion import cross_rules, pipeline, sources
from ingestion.sources import FileHashes
from mallcrm.core.contract import load_contract, match_file
from mallcrm.core.warehouse import connect
from pipeline import steps
from tests.conftest import settings_for
from tests.unit.test_parsing import sale, write_csv

TX = "pos/transactions_20260301.csv"


def _age(path, seconds: float) -> None:
    stamp = time.time() - seconds
    os.utime(path, (stamp, stamp))


def _query(settings, sql: str) -> list[tuple]:
    con = connect(settings)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _count_reads(monkeypatch) -> list[str]:
    reads: list[str] = []
    real = sources.sha256_of

    def counting(path):
        reads.append(path.name)
        return real(path)

    monkeypatch.setattr(sources, "sha256_of", counting)
    return reads


def test_size_and_mtime_cache_trusts_only_the_ledger_and_an_unchanged_file(tmp_path, monkeypatch):
    settings = settings_for(tmp_path)
    path = write_csv(settings.inbox, TX, [sale(net_amount="100.00")])
    _age(path, 300)
    file = match_file(settings.inbox, path, load_contract())
    reads = _count_reads(monkeypatch)

    hashes = FileHashes.load(settings)  # no cache yet: hashed
    sha = hashes.sha256(file, unchanged_from=None)
    hashes.save(settings.inbox)
    assert reads == [path.name]

    again = FileHashes.load(settings)
    assert again.sha256(file, unchanged_from=sha) == sha and reads == [path.name]  # not read
    assert again.sha256(file, unchanged_from="another") == sha and len(reads) == 2  # ledger disagrees: read
    assert again.sha256(file, unchanged_from=None) == sha and len(reads) == 3  # ledger has no record: read

    # rewritten with the same size: its modification time changed, so it is read again
    write_csv(settings.inbox, TX, [sale(net_amount="900.00")])
    _age(path, 200)
    assert path.stat().st_size == file.path.stat().st_size
    changed = FileHashes.load(settings).sha256(file, unchanged_from=sha)
    assert changed != sha and len(reads) == 4

    # a cache made for another inbox is not used
    other = settings_for(tmp_path / "other")
    assert FileHashes.load(other).known == {}


@pytest.mark.integration
def test_unchanged_files_are_not_read_again_and_a_rewritten_one_is_a_correction(tmp_path, monkeypatch):
    settings = settings_for(tmp_path)
    path = write_csv(settings.inbox, TX, [sale(net_amount="100.00")])
    _age(path, 300)
    first = steps.ingest(settings, systems=["pos"])
    assert [(f["source_file"], f["status"]) for f in first.files] == [(TX, "loaded")]

    reads = _count_reads(monkeypatch)
    assert steps.ingest(settings, systems=["pos"]).files == [] and reads == []  # nothing read, nothing loaded

    size = path.stat().st_size
    write_csv(settings.inbox, TX, [sale(net_amount="900.00")])  # same size, other content
    _age(path, 200)
    assert path.stat().st_size == size
    third = steps.ingest(settings, systems=["pos"])
    assert [f["source_file"] for f in third.corrections] == [TX] and reads == [path.name]
    amounts = _query(settings, "select net_amount from raw_pos.transactions order by _loaded_at")
    assert [float(a[0]) for a in amounts] == [100.0, 900.0]


LINE = {"line_no": "1", "sku": "SKU1", "discount_amount": "0.00"}


def _tx(tid: str, amount: str, at: str, **over) -> dict:
    return sale(
        transaction_id=tid, transaction_at=at, gross_amount=amount, discount_amount="0.00", net_amount=amount, **over
    )


def _refund(tid: str, original: str, amount: str, at: str) -> dict:
    return _tx(tid, amount, at, transaction_type="refund", original_transaction_id=original)


def _line(tid: str, no: int, quantity: int, price: str = "10.00") -> dict:
    amount = f"{quantity * float(price):.2f}"
    return LINE | {
        "transaction_id": tid,
        "line_no": str(no),
        "quantity": str(quantity),
        "unit_price": price,
        "line_amount": amount,
    }


# Three days arriving one run after the other: refunds beyond their sale, a refund before
# its sale, a line contradicting its receipt, a correction (v2) that lowers a sale.
DAYS = [
    {
        "pos/transactions_20260301.csv": [
            _tx("T1", "100.00", "2026-03-01 10:00:00"),
            _tx("T5", "50.00", "2026-03-01 11:00:00"),
        ],
        "pos/transaction_lines_20260301.csv": [_line("T1", 1, 10), _line("T5", 1, 5)],
    },
    {
        "pos/transactions_20260302.csv": [
            _refund("T2", "T1", "-30.00", "2026-03-02 10:00:00"),
            _refund("T3", "T1", "-80.00", "2026-03-02 11:00:00"),  # 30 + 80 > 100
            _refund("T4", "T9", "-20.00", "2026-03-02 12:00:00"),  # its sale has not arrived
        ],
        "pos/transaction_lines_20260302.csv": [
            _line("T2", 1, -3),
            _line("T3", 1, -8),
            _line("T4", 1, -2),
            _line("T5", 2, -1),  # a negative line on sale T5
        ],
    },
    {
        "pos/transactions_20260303.csv": [_tx("T9", "10.00", "2026-03-03 10:00:00")],  # T4 exceeds it
        "pos/transactions_20260301_v2.csv": [_tx("T1", "20.00", "2026-03-01 10:00:00")],  # T2 now exceeds T1
        "pos/transaction_lines_20260303.csv": [_line("T9", 1, 1)],
    },
]


def _state(settings) -> dict[str, list[tuple]]:
    return {
        "transactions": _query(
            settings, "select _source_file, _source_line, transaction_id from raw_pos.transactions order by all"
        ),
        "lines": _query(
            settings, "select _source_file, _source_line, transaction_id from raw_pos.transaction_lines order by all"
        ),
        "quarantine": _query(
            settings, "select source_file, source_line, rule, reason from raw_pos.quarantined_rows order by all"
        ),
        "files": _query(
            settings,
            "select source_file, rows_in_file, rows_loaded, rows_quarantined from raw_pos.ingested_files order by all",
        ),
    }


@pytest.mark.integration
def test_scoped_cross_rules_equal_a_full_judgement(tmp_path, monkeypatch):
    scoped_runs: list[bool] = []
    real_scope = cross_rules._scope_keys

    def spy(*args, **kwargs):
        settled = real_scope(*args, **kwargs)
        scoped_runs.append(settled)
        return settled

    monkeypatch.setattr(cross_rules, "_scope_keys", spy)
    scoped, full = settings_for(tmp_path / "scoped"), settings_for(tmp_path / "full")
    for day in DAYS:
        for settings in (scoped, full):
            for name, rows in day.items():
                _age(write_csv(settings.inbox, name, rows), 300)
        steps.ingest(scoped, systems=["pos"])
        with monkeypatch.context() as m:
            m.setattr(
                pipeline,
                "apply_cross_rules",
                lambda s, system, log=None: cross_rules.apply_cross_rules(s, system, log, True),
            )
            steps.ingest(full, systems=["pos"])
    assert scoped_runs == [True, True]  # days 2 and 3 were judged scoped (day 1 is a first judgement)
    got, expected = _state(scoped), _state(full)
    assert got == expected
    rules = {(f, line): rule for f, line, rule, _ in got["quarantine"]}
    assert rules[("pos/transactions_20260302.csv", 3)] == "cross:refund_within_original_sale"  # T3
    assert rules[("pos/transactions_20260302.csv", 4)] == "cross:refund_within_original_sale"  # T4, once T9 came
    assert rules[("pos/transactions_20260302.csv", 2)] == "cross:refund_within_original_sale"  # T2, after the v2
    assert rules[("pos/transaction_lines_20260302.csv", 5)] == "cross:line_quantity_sign_matches_receipt"  # T5 line 2
