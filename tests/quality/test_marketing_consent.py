"""The marketing role file may hold only consenting adult members (quality.runner).

Consent is the current state: the latest consent event per member and marketing scope
among every event the warehouse holds, not the member mart's as-of flags."""

from __future__ import annotations

import duckdb

from mallcrm.core.settings import Settings
from quality.runner import marketing_consent_checks

# (event id, member id as exported, scope, granted, when); the analytics as-of date is 2026-07-03
EVENTS = [
    ("E1", "M1", "marketing_sms", True, "2026-06-01 10:00"),
    ("E2", "M3", "marketing_email", True, "2026-06-01 10:00"),
    ("E3", "M4", "marketing_sms", True, "2026-06-01 10:00"),  # M4 is a minor
    ("E4", "M5", "marketing_sms", True, "2026-06-01 10:00"),
    ("E5", "M5", "marketing_sms", False, "2026-07-10 09:00"),  # withdrawn after the as-of date
    ("E6", "M6-OLD", "marketing_wechat", True, "2026-06-02 10:00"),  # merged into golden M6
    ("E7", "M7", "marketing_email", True, "2026-06-01 10:00"),  # opted out by a request
    ("E8", "M8", "analytics", True, "2026-06-01 10:00"),  # not a marketing scope
    ("E9", "M9", "marketing_sms", False, "2026-06-01 10:00"),
    ("E10", "M9", "marketing_sms", True, "2026-07-12 10:00"),  # granted after the as-of date
]
IDENTITY = [("M1", "M1"), ("M2", "M2"), ("M3", "M3"), ("M4", "M4"), ("M5", "M5"), ("M6", "M6"), ("M6-OLD", "M6")]
IDENTITY += [("M7", "M7"), ("M8", "M8"), ("M9", "M9")]


def _warehouse(tmp_path, published: list[str | None]) -> tuple[duckdb.DuckDBPyConnection, Settings]:
    wh = tmp_path / "mallcrm.duckdb"
    con = duckdb.connect(str(wh))
    for schema in ("marts", "masked", "intermediate", "privacy"):
        con.execute(f"create schema {schema}")
    # the mart's flags are as of 2026-07-03: M5 still consents there, M9 not yet
    con.execute(
        "create table marts.mart_member_360 as select * from (values "
        "('M1', true, false), ('M2', false, false), ('M3', false, true), ('M4', true, true), ('M5', true, false), "
        "('M6', true, false), ('M7', false, true), ('M8', false, false), ('M9', false, false)) "
        "t(member_id, has_consent_marketing_sms, has_consent_marketing_email)"
    )
    con.execute(
        "create table marts.dim_member as select member_id, member_id = 'M4' as is_minor from marts.mart_member_360"
    )
    con.execute(
        "create table masked.msk_membership__consents (consent_event_id varchar, member_id varchar, "
        "consent_scope varchar, is_granted boolean, event_at timestamp, business_date date)"
    )
    con.executemany(
        "insert into masked.msk_membership__consents values (?, ?, ?, ?, ?, cast(cast(? as timestamp) as date))",
        [[*e, e[-1]] for e in EVENTS],
    )
    con.execute(
        "create table intermediate.int_member__identity_map as select 'member_id' as identifier_type, "
        "identifier_value, golden_member_id from (values "
        + ", ".join(f"('{a}', '{b}')" for a, b in IDENTITY)
        + ") t(identifier_value, golden_member_id)"
    )
    con.execute(
        "create table privacy.marketing_optouts (member_id varchar, request_id varchar, withdrawn_at timestamp)"
    )
    con.execute("insert into privacy.marketing_optouts values ('M7', 'R-1', now())")
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
    # M6 consented under an identifier merged into its golden member; M9 granted after the as-of date
    con, settings = _warehouse(tmp_path, ["M1", "M3", "M6", "M9", None])
    results = marketing_consent_checks(con, settings)
    assert [(r.dataset, r.outcome, r.failing) for r in results] == [("roles/marketing.fct_transactions", "passed", 0)]


def test_non_consenting_member_and_minor_fail(tmp_path):
    con, settings = _warehouse(tmp_path, ["M1", "M2", "M4", "M4"])  # M2 never consented, M4 is a minor
    (result,) = marketing_consent_checks(con, settings)
    assert result.outcome == "failed" and result.failing == 3
    assert "roles/marketing.fct_transactions.member_id: only consenting adult members" in result.reason


def test_a_withdrawal_after_the_as_of_date_fails_the_file(tmp_path):
    """M5 withdrew on 2026-07-10, after the analytics as-of date: the mart still says
    consented, the current consent state does not."""
    con, settings = _warehouse(tmp_path, ["M1", "M5", "M5"])
    (result,) = marketing_consent_checks(con, settings)
    assert result.outcome == "failed" and result.failing == 2


def test_a_request_opt_out_and_a_non_marketing_scope_fail_the_file(tmp_path):
    con, settings = _warehouse(tmp_path, ["M7", "M8"])
    (result,) = marketing_consent_checks(con, settings)
    assert result.outcome == "failed" and result.failing == 2


def test_no_role_file_no_check(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    settings = Settings(warehouse=tmp_path / "w.duckdb", inbox=tmp_path, dlt_dir=tmp_path, timezone="UTC")
    assert marketing_consent_checks(con, settings) == []
