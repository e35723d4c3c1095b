"""The marketing role file may hold only consenting adult members (quality.runner)."""

from __future__ import annotations

import duckdb

from mallcrm.core.settings import Settings
from quality.runner import marketing_consent_checks


def _warehouse(tmp_path, published: list[str]) -> tuple[duckdb.DuckDBPyConnection, Settings]:
    wh = tmp_path / "mallcrm.duckdb"
    con = duckdb.connect(str(wh))
    con.execute("create schema marts")
    con.execute(
        "create table marts.mart_member_360 as select * from (values "
        "('M1', true, false), ('M2', false, false), ('M3', false, true), ('M4', true, true)) "
        "t(member_id, has_consent_marketing_sms, has_consent_marketing_email)"
    )
    con.execute(
        "create table marts.dim_member as select * from (values "
        "('M1', false), ('M2', false), ('M3', false), ('M4', true)) t(member_id, is_minor)"
    )
    (tmp_path / "roles").mkdir()
    role = duckdb.connect(str(tmp_path / "roles" / "marketing.duckdb"))
    role.execute("create schema marts")
    role.execute("create table marts.fct_transactions (transaction_id varchar, member_id varchar)")
    role.executemany(
        "insert into marts.fct_transactions values (?, ?)", [[f"T{i}", m] for i, m in enumerate(published)]
    )
    role.execute("create table marts.dim_date (date_day date)")  # no member_id: not checked
    role.close()
    return con, Settings(warehouse=wh, inbox=tmp_path / "inbox", dlt_dir=tmp_path / ".dlt", timezone="Asia/Shanghai")


def test_consenting_adults_only_passes(tmp_path):
    con, settings = _warehouse(tmp_path, ["M1", "M3", None])
    results = marketing_consent_checks(con, settings)
    assert [(r.dataset, r.outcome, r.failing) for r in results] == [("roles/marketing.fct_transactions", "passed", 0)]


def test_non_consenting_member_and_minor_fail(tmp_path):
    con, settings = _warehouse(tmp_path, ["M1", "M2", "M4", "M4"])  # M2 never consented, M4 is a minor
    (result,) = marketing_consent_checks(con, settings)
    assert result.outcome == "failed" and result.failing == 3
    assert "roles/marketing.fct_transactions.member_id: only consenting adult members" in result.reason


def test_no_role_file_no_check(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    settings = Settings(warehouse=tmp_path / "w.duckdb", inbox=tmp_path, dlt_dir=tmp_path, timezone="UTC")
    assert marketing_consent_checks(con, settings) == []
