"""A contract that grows: columns added after exports existed (`optional: true`).

A mall upgrading the warehouse has raw tables and inbox files written before the new
columns. Both keep loading - the old files with the new columns empty - and the frozen
membership system takes the reviewed new columns once, while still refusing a column the
contract does not declare.
"""

from __future__ import annotations

import dataclasses

import pytest

from ingestion import pipeline, sources
from mallcrm.core import inbox
from mallcrm.core.contract import load_contract
from mallcrm.core.warehouse import connect
from pipeline import steps
from tests.conftest import settings_for
from tests.unit.test_parsing import write_csv

pytestmark = pytest.mark.integration

LEDGER = "membership/points_ledger_{day}.csv"


def _entry(entry_id: str, day: str, **extra) -> dict:
    return {
        "entry_id": entry_id,
        "member_id": "M0000001",
        "entry_at": f"{day} 10:00:00",
        "entry_type": "earn",
        "points": "120",
        "transaction_id": f"T{entry_id}",
        "expires_on": "2027-12-31",
        "family_group_id": "",
        **extra,
    }


def _contract_before_the_new_columns():
    """The real contract as it was before its optional columns were added."""
    contract = load_contract()

    def before(f):
        added = [c.name for c in f.columns if c.optional]
        return dataclasses.replace(
            f,
            columns=tuple(c for c in f.columns if not c.optional),
            rules=tuple((n, rule) for n, rule in f.rules if not any(name in rule for name in added)),
        )

    formats = tuple(before(f) for f in contract.formats)
    return dataclasses.replace(contract, formats=formats)


def _raw(settings, sql: str) -> list[tuple]:
    con = connect(settings)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_old_exports_and_raw_tables_keep_loading_after_the_contract_gains_columns(tmp_path, monkeypatch):
    settings = settings_for(tmp_path)
    ledger = load_contract().get("membership", "points_ledger")
    new_columns = [c.name for c in ledger.columns if c.optional]
    assert new_columns, "the points ledger declares optional columns"
    old_header = [c for c in ledger.column_names if c not in new_columns]

    # The warehouse as it was: the raw table created by the older contract.
    old = _contract_before_the_new_columns()
    with monkeypatch.context() as m:
        for module in (inbox, sources, pipeline):
            m.setattr(module, "load_contract", lambda *a, **k: old)
        write_csv(settings.inbox, LEDGER.format(day="20260101"), [_entry("E1", "2026-01-01")], header=old_header)
        steps.ingest(settings, systems=["membership"])
    assert not {c for (c,) in _raw(settings, "select column_name from (describe raw_membership.points_ledger)")} & set(
        new_columns
    )

    # After the upgrade: an old-format file and a new-format file arrive together.
    write_csv(settings.inbox, LEDGER.format(day="20260102"), [_entry("E2", "2026-01-02")], header=old_header)
    write_csv(
        settings.inbox,
        LEDGER.format(day="20260103"),
        [_entry("E3", "2026-01-03", earn_source="purchase", multiplier="1.2", bonus_points="20")],
    )
    report = steps.ingest(settings, systems=["membership"])
    assert not report.refused, report.refused
    rows = _raw(
        settings, "select entry_id, earn_source, multiplier, bonus_points from raw_membership.points_ledger order by 1"
    )
    assert rows == [("E1", None, None, None), ("E2", None, None, None), ("E3", "purchase", 1.2, 20)]
    assert _raw(settings, "select count(*) from raw_membership.quarantined_rows")[0][0] == 0

    # Still frozen against what the contract does not declare.
    write_csv(settings.inbox, LEDGER.format(day="20260104"), [_entry("E4", "2026-01-04", wechat_nickname="小王")])
    report = steps.ingest(settings, systems=["membership"])
    assert [r["source_file"] for r in report.refused] == [LEDGER.format(day="20260104")]
    assert "unannounced column(s) wechat_nickname" in report.refused[0]["reason"]
