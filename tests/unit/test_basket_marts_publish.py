"""The ML activation marts in the role files (privacy/publish.py, privacy/policy.yml), on
hand-made marts with the columns their dbt contracts declare: member-level
recommendations reach the roles that may see member_id (marketing only for consenting
adults), management_bi gets no member id, and the aggregated basket rules reach
management_bi (the BI copy and the dashboard) whole. No change to the publish code was
needed: it takes every mart and applies the policy's column and row rules."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
import yaml

from privacy.policy import load_policy
from privacy.publish import column_allowed, store_scope, write_role_file

MARTS = Path(__file__).resolve().parents[2] / "dbt_project" / "models" / "marts"
RECOMMENDATIONS = MARTS / "member" / "mart_member_recommendations.yml"
RULES = MARTS / "basket" / "mart_basket_rules.yml"
POLICY = load_policy()
ROLES = list(POLICY["roles"])
SEES_MEMBER_ID = {"marketing", "data_science", "compliance"}


def _columns(yml: Path) -> dict[str, str]:
    (model,) = yaml.safe_load(yml.read_text(encoding="utf-8"))["models"]
    return {c["name"]: c["data_type"] for c in model["columns"]}


def test_the_policy_gives_member_id_of_recommendations_only_to_roles_that_may_see_it():
    columns = _columns(RECOMMENDATIONS)
    assert "member_id" in columns
    assert {r for r in ROLES if column_allowed(POLICY, r, "member_id")} == SEES_MEMBER_ID | {"store_operations"}
    assert not column_allowed(POLICY, "management_bi", "member_id")
    for role in ROLES:  # nothing else in either mart is personal
        for column in {**columns, **_columns(RULES)}:
            if column != "member_id":
                assert column_allowed(POLICY, role, column), (role, column)


@pytest.fixture
def marts(tmp_path):
    """A warehouse with the two marts (typed from their ymls), dim_member and dim_store:
    M1 adult consenting, M2 adult without consent, M3 a minor."""
    con = duckdb.connect(str(tmp_path / "wh.duckdb"))
    con.execute("create schema marts")
    for name, yml in (("mart_member_recommendations", RECOMMENDATIONS), ("mart_basket_rules", RULES)):
        cols = ", ".join(f'"{c}" {t}' for c, t in _columns(yml).items())
        con.execute(f"create table marts.{name} ({cols})")
    con.execute("create table marts.dim_member (member_id varchar, is_minor boolean)")
    con.execute("insert into marts.dim_member values ('M1', false), ('M2', false), ('M3', true)")
    con.execute("create table marts.dim_store (store_id varchar, zone_id varchar)")
    con.execute("insert into marts.dim_store values ('S001', 'Z1')")
    for member in ("M1", "M2", "M3"):
        for rank in (1, 2):
            con.execute(
                "insert into marts.mart_member_recommendations (member_recommendation_id, member_id, "
                "recommendation_rank, sku, product_name, recommendation_score, cutoff_date, model_version, scored_at) "
                "values (?, ?, ?, ?, 'tea', 0.5, date '2026-06-01', 'v1', timestamp '2026-06-02 06:30:00')",
                [f"{member}-{rank}", member, rank, f"S{rank}"],
            )
    con.execute(
        "insert into marts.mart_basket_rules (basket_rule_id, rule_level, rule_rank, antecedent_items, "
        "consequent_items, support, confidence, lift, rule_basket_count, total_basket_count) "
        "values ('r1', 'category', 1, 'beauty', 'fashion', 0.04, 0.4, 3.3, 40, 1000)"
    )
    yield con
    con.close()


def _published(con, tmp_path, role) -> dict[str, tuple[list[str], int]]:
    path = tmp_path / f"{role}.duckdb"
    store = "S001" if store_scope(POLICY, role) else None
    consenting = "select 'M1' as member_id"  # marketing: only M1's consent is active
    write_role_file(con, POLICY, role, path, consenting_sql=consenting, store=store)
    out = duckdb.connect(str(path), read_only=True)
    try:
        found: dict[str, tuple[list[str], int]] = {}
        for table, column in out.execute(
            "select table_name, column_name from information_schema.columns order by table_name, ordinal_position"
        ).fetchall():
            found.setdefault(table, ([], 0))[0].append(column)
        count = "select count(*) from marts.{}"
        return {t: (cols, out.execute(count.format(t)).fetchone()[0]) for t, (cols, _) in found.items()}
    finally:
        out.close()


@pytest.mark.parametrize("role", ROLES)
def test_role_files_hold_the_activation_marts_per_the_policy(marts, tmp_path, role):
    tables = _published(marts, tmp_path, role)
    if store_scope(POLICY, role):  # store files: no store column, so neither mart (fail closed)
        assert "mart_member_recommendations" not in tables and "mart_basket_rules" not in tables
        return
    rec_columns, rec_rows = tables["mart_member_recommendations"]
    rule_columns, rule_rows = tables["mart_basket_rules"]
    assert rule_rows == 1 and set(rule_columns) == set(_columns(RULES))  # aggregated: whole, every role
    assert ("member_id" in rec_columns) == (role in SEES_MEMBER_ID)
    assert set(rec_columns) - {"member_id"} == set(_columns(RECOMMENDATIONS)) - {"member_id"}
    expected_rows = {"marketing": 2, "compliance": 6}.get(role, 4)  # consenting adults / all / adults
    assert rec_rows == expected_rows
