"""The marts on generated malls: non-empty, BI-readable, and the simulator's truths show."""

from __future__ import annotations

import json
from collections import Counter

import duckdb
import pytest

from cli.summary import table_counts
from mallcrm.core.dbt import run_dbt
from mallcrm.core.settings import DBT_PROJECT_DIR
from mallcrm.core.warehouse import connect
from privacy.bi_copy import BI_STORAGE_VERSION, publish_bi_copy
from tests.conftest import generate_mall, mall_environment

pytestmark = pytest.mark.integration


def test_every_mart_is_built_and_non_empty(built_mall):
    settings, _, ok = built_mall
    assert ok
    marts = table_counts(settings)["marts"]
    expected = {
        "dim_member",
        "dim_store",
        "dim_product",
        "dim_date",
        "fct_transactions",
        "fct_sales_lines",
        "fct_points_events",
        "mart_member_360",
        "mart_rfm_monthly",
        "mart_rfm_segment_migration",
        "mart_lifecycle_kpis_monthly",
        "mart_loyalty_tiers_monthly",
        "mart_points_monthly",
        "mart_family_points",
        "mart_vip_members",
        "mart_nps_monthly",
        "mart_complaint_sla",
        "mart_campaign_roi",
        "mart_traffic_heatmap",
        "mart_zone_dwell_daily",
        "mart_traffic_conversion",
        "mart_basket_pairs",
        "mart_mall_kpis_monthly",
        "mart_store_kpis_monthly",
        "mart_zone_transitions_daily",
        "mart_campaign_cuped",
        "mart_campaign_segment_effects",
        "mart_campaign_arm_comparisons",
        "mart_points_earn_sources_monthly",
        "mart_points_economics_monthly",
        "mart_tier_qualification",
        "mart_tier_benefits_monthly",
        "mart_vip_programme_monthly",
        "mart_complaint_rates_monthly",
        "mart_complaint_root_causes_monthly",
        "fct_digital_events",
        "mart_digital_engagement_monthly",
        "mart_identity_merges",
    }
    assert expected <= set(marts)
    # fed only by the ML score tables: built, but empty until the first `mallcrm ml score`
    ml_fed = {"mart_basket_rules", "mart_member_recommendations", "mart_uplift_qini"}
    assert ml_fed <= set(marts)
    # fed only by the activation ledger: empty until the first `mallcrm audiences build`
    # (tests/integration/test_activation.py fills them)
    ledger_fed = {"mart_audience_runs", "mart_audience_overlaps", "mart_channel_consent_coverage"}
    assert ledger_fed <= set(marts)
    assert {name for name, rows in marts.items() if rows == 0} <= ml_fed | ledger_fed
    assert "main" not in table_counts(settings), "a model left objects in the default schema"


def test_the_marts_constraints_are_held_and_enforced_by_the_warehouse(built_mall):
    """On contract-enforced tables, not-null, range and accepted-value rules are constraints, not
    data tests: the warehouse must hold every one declared in the ymls and refuse a row that
    breaks one, so bad data fails the build instead of landing."""
    settings, _, ok = built_mall
    assert ok
    manifest = json.loads((DBT_PROJECT_DIR / "target" / "manifest.json").read_text(encoding="utf-8"))
    declared: Counter = Counter()
    for node in manifest["nodes"].values():
        config = node.get("config", {})
        if node["resource_type"] != "model" or node["schema"] != "marts" or not config["contract"]["enforced"]:
            continue
        for column in node["columns"].values():
            for constraint in column.get("constraints", []):
                if constraint["type"] in ("not_null", "check"):
                    declared[(node["alias"], constraint["type"].replace("_", " ").upper())] += 1
    assert sum(declared.values()) > 300
    con = connect(settings)
    try:
        held = Counter(
            {
                (table, kind): n
                for table, kind, n in con.execute(
                    "select table_name, constraint_type, count(*) from duckdb_constraints() "
                    "where schema_name = 'marts' and constraint_type in ('NOT NULL', 'CHECK') group by all"
                ).fetchall()
            }
        )
        assert held == declared
        con.execute("begin")
        with pytest.raises(duckdb.ConstraintException, match="CHECK constraint"):
            con.execute(
                "insert into marts.mart_campaign_roi select * replace ('holdout' as arm) "
                "from marts.mart_campaign_roi limit 1"
            )
        con.execute("rollback")
    finally:
        con.close()


def test_bi_copy_holds_the_marts_in_duckdb_1_4_storage(built_mall):
    settings, _, _ = built_mall
    copy = publish_bi_copy(settings)
    marts = table_counts(settings)["marts"]
    # the BI copy is the management_bi role's output (privacy/publish.py): minors' rows left out
    assert set(copy.tables) <= {f"marts.{t}" for t in marts}
    assert copy.tables["marts.mart_lifecycle_kpis_monthly"] == marts["mart_lifecycle_kpis_monthly"]
    assert copy.tables["marts.dim_member"] < marts["dim_member"]
    con = connect(settings, copy.path)
    try:
        tags = con.execute("select tags from duckdb_databases() where database_name = current_database()").fetchone()[0]
        assert tags["storage_version"].startswith(BI_STORAGE_VERSION)
        schemas = {r[0] for r in con.execute("select distinct table_schema from information_schema.tables").fetchall()}
        # the marts, and the metric views over them (no raw or staging data)
        assert schemas == {"marts", "metrics"}, "the BI copy must hold the marts only (no raw or staging data)"
    finally:
        con.close()


@pytest.fixture(scope="module")
def medium_mall(tmp_path_factory):
    """Big enough for the simulator's behavioural truths to be measurable (~1 min)."""
    from pipeline import steps

    root = tmp_path_factory.mktemp("medium_mall")
    with mall_environment(root) as settings:
        generate_mall(settings.inbox, members=1500, stores=12, days=150)
        steps.ingest(settings)
        assert run_dbt(["run", "--select", "+mart_member_360 +mart_campaign_roi"], settings, quiet=True)
        con = connect(settings)
        yield con
        con.close()


def test_treatment_beats_control_in_campaigns(medium_mall):
    pooled = medium_mall.execute(
        """
        select sum(case when is_treatment then converted_count end) * 1.0
                 / sum(case when is_treatment then member_count end),
               sum(case when not is_treatment then converted_count end) * 1.0
                 / sum(case when not is_treatment then member_count end),
               count(*) filter (where is_treatment and is_conversion_significant and conversion_uplift > 0)
        from marts.mart_campaign_roi
        """
    ).fetchone()
    treatment, control, significant = pooled
    assert treatment > control
    assert significant >= 1, "the simulated uplift should be significant in at least one campaign"


def test_detractors_lapse_more_than_promoters(medium_mall):
    rates = dict(
        medium_mall.execute(
            """
            select case when last_nps_score <= 6 then 'detractor' when last_nps_score >= 9 then 'promoter' end,
                   avg(case when lifecycle_stage in ('declining', 'dormant', 'churned') then 1.0 else 0.0 end)
            from marts.mart_member_360
            where last_nps_score <= 6 or last_nps_score >= 9
            group by 1
            """
        ).fetchall()
    )
    assert rates["detractor"] > rates["promoter"]
