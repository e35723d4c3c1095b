"""What BI tools read besides the rows: every published copy carries the dbt docs as
table and column comments and one view per dbt metric, over what its role may see."""

from __future__ import annotations

import duckdb
import pytest

from mallcrm.core.dbt import load_manifest
from pipeline import steps
from semantic.docs import docs_from_manifest
from semantic.metrics import aggregate_sql, metrics_from_manifest

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def publication(built_mall):
    settings, _, ok = built_mall
    assert ok
    return settings, steps.publish(settings)


def _open(path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(path), read_only=True)


def test_every_documented_table_and_column_of_the_bi_copy_carries_its_description(publication):
    settings, published = publication
    docs = docs_from_manifest(load_manifest(settings))
    con = _open(published.bi_copy.path)
    try:
        tables = dict(con.execute("select schema_name || '.' || table_name, comment from duckdb_tables()").fetchall())
        columns = con.execute(
            "select schema_name || '.' || table_name, column_name, comment from duckdb_columns() "
            "where schema_name = 'marts'"
        ).fetchall()
    finally:
        con.close()
    marts = {name for name in tables if name.startswith("marts.")}
    assert marts and all(tables[name] == docs[name].description for name in marts)
    expected = [(t, c) for t, c, _ in columns if docs[t].columns.get(c)]
    assert len(expected) > 0.95 * len(columns)  # the marts are documented column by column
    assert all(comment == docs[t].columns[c] for t, c, comment in columns if (t, c) in set(expected))


def test_the_metric_views_answer_like_the_marts(publication):
    settings, published = publication
    metrics = metrics_from_manifest(load_manifest(settings))
    con = _open(published.role_files["compliance"].path)  # compliance sees every mart whole
    try:
        views = {
            r[0] for r in con.execute("select view_name from duckdb_views() where schema_name = 'metrics'").fetchall()
        }
        assert views == set(metrics)  # one view per dbt metric
        nps = con.execute(aggregate_sql(con, "nps")).fetchone()[0]
        promoters, detractors, answered = con.execute(
            "select count(*) filter (where nps_score >= 9), count(*) filter (where nps_score <= 6), count(nps_score) "
            "from marts.fct_survey_responses"
        ).fetchone()
        assert nps == pytest.approx((promoters - detractors) * 100 / answered)
        first = con.execute("select min(business_date) + 30 from marts.fct_transactions").fetchone()[0]
        revenue = con.execute(aggregate_sql(con, "net_revenue", "where metric_date <= ?"), [first]).fetchone()[0]
        expected = con.execute(
            "select sum(net_revenue_amount) from marts.fct_transactions where business_date <= ?", [first]
        ).fetchone()[0]
        assert float(revenue) == pytest.approx(float(expected))
    finally:
        con.close()


def test_a_store_file_s_metrics_hold_its_own_store_only(publication):
    _, published = publication
    store, role_file = next(iter(published.role_files["store_operations"].stores.items()))
    con = _open(role_file.path)
    try:
        stores = {r[0] for r in con.execute("select distinct store_id from metrics.net_revenue").fetchall()}
        comment = con.execute("select comment from duckdb_views() where view_name = 'net_revenue'").fetchone()[0]
    finally:
        con.close()
    assert stores == {store}
    assert comment.startswith("Net revenue")
