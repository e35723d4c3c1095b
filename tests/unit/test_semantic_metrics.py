"""The metric views compile each dbt metric once, from the manifest: formulas over summed
measures, divisions that give null (not an error) on an empty day, and a refusal for what a
sum of days cannot express."""

from __future__ import annotations

import duckdb
import pytest

from semantic.comments import comment_statements
from semantic.docs import TableDoc
from semantic.metrics import MetricError, create_metric_views, metrics_from_manifest, rollup_expression


def _manifest(measures=None, metrics=None) -> dict:
    measures = measures or [
        {"name": "promoters", "agg": "sum", "expr": "case when score >= 9 then 1 else 0 end"},
        {"name": "detractors", "agg": "sum", "expr": "case when score <= 6 then 1 else 0 end"},
        {"name": "responses", "agg": "count", "expr": "score"},
    ]
    simple = [{"name": m["name"], "type": "simple", "type_params": {"measure": {"name": m["name"]}}} for m in measures]
    metrics = metrics or [
        {
            "name": "nps",
            "label": "NPS",
            "type": "derived",
            "type_params": {
                "expr": "(p - d) * 100.0 / r",
                "metrics": [
                    {"name": "promoters", "alias": "p"},
                    {"name": "detractors", "alias": "d"},
                    {"name": "responses", "alias": "r"},
                ],
            },
        },
        {
            "name": "promoter_share",
            "type": "ratio",
            "type_params": {"numerator": {"name": "promoters"}, "denominator": {"name": "responses"}},
        },
    ]
    return {
        "nodes": {
            "model.x.fct_answers": {
                "resource_type": "model",
                "name": "fct_answers",
                "schema": "marts",
                "alias": "fct_answers",
                "columns": {"day": {}, "store_id": {}, "score": {}},
            }
        },
        "semantic_models": {
            "semantic_model.x.answers": {
                "name": "answers",
                "node_relation": {"schema_name": "marts", "alias": "fct_answers"},
                "defaults": {"agg_time_dimension": "answer_date"},
                "entities": [{"name": "store", "type": "foreign", "expr": "store_id"}],
                "dimensions": [{"name": "answer_date", "type": "time", "expr": "day"}],
                "measures": measures,
            }
        },
        "metrics": {f"metric.x.{m['name']}": m for m in simple + metrics},
    }


def _answers() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("create schema marts")
    con.execute(
        "create table marts.fct_answers as select * from (values "
        "(date '2026-01-01', 'S1', 10), (date '2026-01-01', 'S1', 3), (date '2026-01-01', 'S2', 9), "
        "(date '2026-01-02', 'S1', 8), (date '2026-01-02', 'S2', null)) as t(day, store_id, score)"
    )
    return con


def test_a_period_rolls_up_from_days_like_the_whole_table():
    metrics = metrics_from_manifest(_manifest())
    con = _answers()
    created = create_metric_views(con, "duckdb", {"marts.fct_answers"}, metrics)
    assert set(created) == {"nps", "promoter_share", "promoters", "detractors", "responses"}
    assert rollup_expression(metrics["nps"]) == (
        "(sum(promoters) - sum(detractors)) * 100.0 / nullif(sum(responses), 0)"
    )
    nps = con.execute(f"select {rollup_expression(metrics['nps'])} from metrics.nps").fetchone()[0]
    # 4 answers: 2 promoters (10, 9), 1 detractor (3), 1 passive (8): (2 - 1) / 4
    assert nps == pytest.approx(25.0)
    share = con.execute(
        f"select {rollup_expression(metrics['promoter_share'])} from metrics.promoter_share where store_id = 'S1'"
    ).fetchone()[0]
    assert share == pytest.approx(1 / 3)
    # a day whose only answer has no score: its ratio is null, not a division error
    day = con.execute("select value from metrics.promoter_share where store_id = 'S2' and metric_date = '2026-01-02'")
    assert day.fetchone()[0] is None
    definitions = dict(con.execute("select metric_name, dimensions from metrics.metric_definitions").fetchall())
    assert definitions["nps"] == "metric_date, store_id"


def test_a_metric_the_copy_cannot_answer_gets_no_view():
    metrics = metrics_from_manifest(_manifest())
    con = _answers()
    created = create_metric_views(con, "duckdb", {"marts.fct_answers": ["day", "store_id"]}, metrics)
    assert created == []  # the role's copy lacks `score`
    assert con.execute("select count(*) from metrics.metric_definitions").fetchone()[0] == 0


@pytest.mark.parametrize(
    ("measures", "metrics", "message"),
    [
        ([{"name": "buyers", "agg": "count_distinct", "expr": "member_id"}], None, "not a sum or a count"),
        (
            None,
            [{"name": "vip_nps", "type": "simple", "filter": "x", "type_params": {"measure": {"name": "promoters"}}}],
            "has a filter",
        ),
        (
            None,
            [{"name": "loop", "type": "derived", "type_params": {"expr": "loop", "metrics": [{"name": "loop"}]}}],
            "itself",
        ),
    ],
)
def test_what_a_sum_of_days_cannot_express_is_refused_by_name(measures, metrics, message):
    manifest = _manifest(measures, metrics)
    with pytest.raises(MetricError, match=message):
        metrics_from_manifest(manifest)


def test_comments_quote_the_docs_and_skip_what_the_copy_lacks():
    docs = {
        "marts.dim_store": TableDoc(
            "Stores (tenants), one row each.", {"store_id": "Store id.", "name": "It's the name."}
        )
    }
    statements = comment_statements(docs, {"marts.dim_store": ["store_id", "name"], "marts.other": ["x"]}, "postgres")
    assert statements == [
        """comment on table "marts"."dim_store" is 'Stores (tenants), one row each.'""",
        """comment on column "marts"."dim_store"."store_id" is 'Store id.'""",
        """comment on column "marts"."dim_store"."name" is 'It''s the name.'""",
    ]
    with pytest.raises(ValueError, match="dialect"):
        comment_statements(docs, {}, "oracle")


def test_a_semantic_model_without_its_time_dimension_is_refused_by_name():
    manifest = _manifest()
    model = manifest["semantic_models"]["semantic_model.x.answers"]
    model["defaults"]["agg_time_dimension"] = "asked_on"
    with pytest.raises(MetricError, match="semantic model answers .* has no time dimension 'asked_on'"):
        metrics_from_manifest(manifest)
