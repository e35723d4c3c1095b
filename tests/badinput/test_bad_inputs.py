"""The bad-input suite: one named test per kind of bad export a mall really sends.

Each case ends in a clear error or a quarantine row naming the file, line and rule; no
line is lost (rows in the file = loaded + quarantined); nothing that came from the data
or from an argument is executed. Most cases parse one file (fast); the ones about files
arriving over time ingest into a throw-away warehouse.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from ingestion.sources import IngestLog, scan_inbox
from mallcrm.core.contract import load_contract
from mallcrm.core.settings import DBT_PROJECT_DIR
from tests.conftest import mall_environment
from tests.unit.test_parsing import GOOD_SALE, parse, sale, write_csv

TX = "pos/transactions_20260101.csv"
MEMBER = {
    "member_id": "M0000001",
    "card_no": "6200000000000001",
    "name": "王小明",
    "mobile": "13800001111",
    "email": "",
    "gender": "M",
    "birthday": "1990-05-01",
    "country_code": "CN",
    "registration_channel": "app",
    "registered_at": "2025-01-01 10:00:00",
    "tier": "basic",
    "family_group_id": "",
    "referrer_member_id": "",
    "status": "active",
    "updated_at": "2025-12-31 10:00:00",
}


def quarantine(parsed) -> dict[int, dict]:
    return {r["source_line"]: r for r in parsed.quarantine.to_pylist()}


def assert_nothing_lost(parsed) -> None:
    assert parsed.rows_loaded + parsed.rows_quarantined == parsed.rows_in_file


# ----------------------------------------------------------------------------- rows


def test_malformed_csv_row_unterminated_quote(tmp_path):
    path = write_csv(tmp_path, TX, [sale(), sale(transaction_id="T2")])
    with open(path, "a", encoding="utf-8") as fh:
        fh.write('T3,sale,,S001,P1,,,"2026-01-01 10:00:00,1,0,,0,1,cash,C1\n')
    parsed = parse(tmp_path, path)
    assert_nothing_lost(parsed)
    bad = quarantine(parsed)[4]
    assert bad["rule"] == "parse:unquoted_value" and f"{TX} line 4" in bad["reason"]


def test_gbk_file_without_declaration(tmp_path):
    """Undeclared GBK is detected: it loads where the contract allows GBK (legacy POS), and
    is refused, naming the encoding, where it does not (member exports are UTF-8 only)."""
    path = write_csv(tmp_path, TX, [sale(cashier_id="王小明")], encoding="gbk")
    parsed = parse(tmp_path, path)
    assert parsed.encoding == "gbk" and parsed.rows.to_pylist()[0]["cashier_id"] == "王小明"
    path = write_csv(tmp_path, "membership/members_20260101.csv", [MEMBER], encoding="gbk")
    parsed = parse(tmp_path, path)
    assert parsed.status == "refused" and "file is GBK" in parsed.reason and "allows utf-8" in parsed.reason
    assert_nothing_lost(parsed)


def test_byte_order_mark(tmp_path):
    path = write_csv(tmp_path, TX, [sale()], encoding="utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    parsed = parse(tmp_path, path)
    assert parsed.rows_loaded == 1 and parsed.rows.to_pylist()[0]["transaction_id"] == "T1"


def test_full_width_digits(tmp_path):
    parsed = parse(tmp_path, write_csv(tmp_path, TX, [sale(), sale(transaction_id="T2", gross_amount="１２０.００")]))
    assert_nothing_lost(parsed)
    bad = quarantine(parsed)[3]
    assert bad["rule"] == "parse:cast" and "gross_amount" in bad["reason"] and "１２０.００" in bad["raw_record"]


def test_truncated_file(tmp_path):
    path = write_csv(tmp_path, TX, [sale(), sale(transaction_id="T2")])
    path.write_bytes(path.read_bytes()[:-30])  # the export stopped mid-line
    parsed = parse(tmp_path, path)
    assert_nothing_lost(parsed)
    assert [r["transaction_id"] for r in parsed.rows.to_pylist()] == ["T1"]
    assert quarantine(parsed)[3]["rule"] == "parse:missing_columns"


def test_empty_file(tmp_path):
    path = tmp_path / TX
    path.parent.mkdir(parents=True)
    path.write_bytes(b"")
    parsed = parse(tmp_path, path)
    assert parsed.status == "refused" and parsed.rows_loaded == 0
    assert parsed.reason and "empty" in parsed.reason.lower()


def test_duplicate_rows(tmp_path):
    """Raw keeps both lines (nothing is dropped silently); staging keeps one per key
    (tests/integration/test_pipeline.py::test_staging_is_deduplicated_on_keys)."""
    parsed = parse(tmp_path, write_csv(tmp_path, TX, [sale(), sale()]))
    rows = parsed.rows.to_pylist()
    assert [r["transaction_id"] for r in rows] == ["T1", "T1"] and [r["_source_line"] for r in rows] == [2, 3]


def test_future_timestamps(tmp_path):
    parsed = parse(
        tmp_path, write_csv(tmp_path, TX, [sale(), sale(transaction_id="T2", transaction_at="2099-01-01 10:00:00")])
    )
    assert_nothing_lost(parsed)
    assert quarantine(parsed)[3]["rule"] == "rule:transaction_at_not_after_export_day"


def test_timestamp_just_after_midnight_of_the_export_day_is_not_future(tmp_path):
    parsed = parse(tmp_path, write_csv(tmp_path, TX, [sale(transaction_at="2026-01-02 00:30:00")]))
    assert parsed.rows_loaded == 1


def test_negative_amounts(tmp_path):
    parsed = parse(tmp_path, write_csv(tmp_path, TX, [sale(), sale(transaction_id="T2", net_amount="-5.00")]))
    assert quarantine(parsed)[3]["rule"] == "rule:sale_amount_not_negative"


def test_huge_amounts(tmp_path):
    rows = [
        sale(),
        sale(transaction_id="T2", gross_amount="5000000000.00", net_amount="5000000000.00"),
        sale(transaction_id="T3", gross_amount="99999999999999999999.00", net_amount="99999999999999999999.00"),
    ]
    parsed = parse(tmp_path, write_csv(tmp_path, TX, rows))
    assert_nothing_lost(parsed)
    bad = quarantine(parsed)
    assert bad[3]["rule"] == "rule:amount_below_ceiling"
    assert bad[4]["rule"] == "parse:cast"  # beyond DECIMAL(18,2): refused by the cast, not wrapped


def test_unknown_members(tmp_path):
    """A card no member holds still is a sale: it loads, and dbt leaves it unresolved
    (member_id null, is_member_receipt false in fct_transactions) instead of dropping revenue."""
    parsed = parse(tmp_path, write_csv(tmp_path, TX, [sale(member_card_no="9999999999999999")]))
    assert parsed.rows_loaded == 1 and parsed.rows.to_pylist()[0]["member_card_no"] == "9999999999999999"


def test_unknown_stores(tmp_path):
    """An unknown store loads (the sale happened) and fails dbt's relationships test on
    stg_pos__transactions.store_id, which names the store in `dbt build`'s output."""
    parsed = parse(tmp_path, write_csv(tmp_path, TX, [sale(store_id="S999")]))
    assert parsed.rows_loaded == 1
    yml = (DBT_PROJECT_DIR / "models/staging/pos/stg_pos__transactions.yml").read_text(encoding="utf-8")
    assert "ref('stg_reference__stores')" in yml


# ----------------------------------------------------------------------------- schema drift


def _drifted(tmp_path, header: list[str], row: dict):
    return parse(tmp_path, write_csv(tmp_path, TX, [row], header=header))


def test_schema_drift_added_column(tmp_path):
    parsed = _drifted(tmp_path, [*GOOD_SALE, "loyalty_tier"], {**sale(), "loyalty_tier": "gold"})
    assert parsed.status == "refused" and "unannounced column(s) loyalty_tier" in parsed.reason
    assert_nothing_lost(parsed)


def test_schema_drift_removed_column(tmp_path):
    header = [c for c in GOOD_SALE if c != "cashier_id"]
    parsed = _drifted(tmp_path, header, sale())
    assert parsed.status == "refused" and "missing column(s) cashier_id" in parsed.reason


def test_schema_drift_renamed_column(tmp_path):
    header = ["gross_amt" if c == "gross_amount" else c for c in GOOD_SALE]
    row = {("gross_amt" if k == "gross_amount" else k): v for k, v in sale().items()}
    parsed = _drifted(tmp_path, header, row)
    assert parsed.status == "refused"
    assert "missing column(s) gross_amount" in parsed.reason and "unannounced column(s) gross_amt" in parsed.reason


def test_schema_drift_changed_type(tmp_path):
    parsed = parse(
        tmp_path, write_csv(tmp_path, TX, [sale(gross_amount="high"), sale(transaction_id="T2", gross_amount="low")])
    )
    assert parsed.rows_loaded == 0 and {r["rule"] for r in parsed.quarantine.to_pylist()} == {"parse:cast"}
    assert_nothing_lost(parsed)


# ----------------------------------------------------------------------------- files over time


def _ingest(settings, systems=("pos",)):
    from pipeline import steps

    return steps.ingest(settings, systems=list(systems))


def _ingested_files(settings) -> dict[str, tuple]:
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        return {
            r[0]: r[1:]
            for r in con.execute(
                "select source_file, status, rows_in_file, rows_loaded, rows_quarantined from raw_pos.ingested_files"
            ).fetchall()
        }
    finally:
        con.close()


@pytest.mark.integration
def test_duplicate_file(tmp_path):
    with mall_environment(tmp_path) as settings:
        first = write_csv(settings.inbox, TX, [sale()])
        _ingest(settings)
        shutil.copy(first, settings.inbox / "pos/transactions_20260102.csv")  # re-sent under a new name
        _ingest(settings)
        files = _ingested_files(settings)
        assert files[TX][:3] == ("loaded", 1, 1)
        assert files["pos/transactions_20260102.csv"][0] == "duplicate"
        assert files["pos/transactions_20260102.csv"][2] == 0
        assert _ingest(settings).files == []  # and a third run finds nothing new


@pytest.mark.integration
def test_late_arriving_day(tmp_path):
    with mall_environment(tmp_path) as settings:
        write_csv(
            settings.inbox,
            "pos/transactions_20260102.csv",
            [sale(transaction_id="T2", transaction_at="2026-01-02 11:00:00")],
        )
        _ingest(settings)
        write_csv(settings.inbox, TX, [sale()])  # yesterday's export arrives a day late
        later = _ingest(settings)
        assert [f["source_file"] for f in later.files] == [TX]
        assert _ingested_files(settings)[TX][:3] == ("loaded", 1, 1)


@pytest.mark.integration
def test_sql_in_values(tmp_path):
    hostile = "T2'); drop table raw_pos.transactions; --"
    with mall_environment(tmp_path) as settings:
        write_csv(settings.inbox, TX, [sale(), sale(transaction_id=hostile, cashier_id="'; select 1; --")])
        _ingest(settings)
        con = duckdb.connect(str(settings.warehouse), read_only=True)
        ids = [r[0] for r in con.execute("select transaction_id from raw_pos.transactions order by 1").fetchall()]
        con.close()
    assert ids == ["T1", hostile]  # stored as text; the table is still there


# ----------------------------------------------------------------------------- names and arguments


def test_hostile_file_names_in_the_inbox(tmp_path):
    inbox = tmp_path / "inbox"
    names = [
        "pos/transactions 20260101.csv",
        "pos/交易_20260101.csv",
        "pos/transactions_20260101;rm -rf ~.csv",
        "pos/$(touch pwned)_20260101.csv",
        "pos/transactions_..%2f..%2fetc%2fpasswd_20260101.csv",
    ]
    for name in names:
        path = inbox / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("transaction_id\n", encoding="utf-8")
    secret = tmp_path / "outside.csv"
    secret.write_text("not for the warehouse\n", encoding="utf-8")
    os.symlink(secret, inbox / "pos/transactions_20260102.csv")  # a way out of the inbox
    log = IngestLog()
    assert scan_inbox(inbox, load_contract(), log) == []
    explained = "\n".join(log.unmatched)
    for name in names:
        assert f"{name}: " in explained  # named and explained, never read
    assert "pos/transactions_20260102.csv: resolves outside the inbox; not read" in explained
    assert not Path("pwned").exists() and not (inbox / "pos" / "pwned").exists()


def test_sql_in_cli_arguments(tmp_path):
    from cli import main

    with mall_environment(tmp_path):
        result = CliRunner().invoke(main, ["ingest", "--system", "pos; drop table raw_pos.transactions"])
    assert result.exit_code == 2
    assert "unknown source system 'pos; drop table raw_pos.transactions'" in result.output
    assert not (tmp_path / "warehouse" / "mallcrm.duckdb").exists()  # refused before anything opened


def test_sql_in_dbt_vars(tmp_path, monkeypatch):
    """The one dbt var taken from the environment (the mall's time zone) is checked first."""
    from mallcrm.core.settings import load_settings

    monkeypatch.setenv("MALLCRM_TIMEZONE", "Asia/Shanghai'; drop table raw_pos.transactions; --")
    with pytest.raises(ValueError, match="is not an IANA time zone"):
        load_settings()
