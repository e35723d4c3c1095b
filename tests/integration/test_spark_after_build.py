"""Everything after the build, on a Spark-built small mall: ML training and scoring, the
scores back in member 360 on Spark, the BI copy and the role files, the Soda checks and
`mallcrm status`, all through the same readers as on DuckDB (spark/views.py makes the
Spark-built tables views of the DuckDB warehouse file).

The ML values themselves are proven equal across engines by the features being equal
(tests/integration/test_cross_engine.py); here the types the readers see must be the
DuckDB build's, column for column, and each step must do its real work on Spark's data.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cli.summary import table_counts
from mallcrm.core.warehouse import connect
from ml.models import MODEL_NAMES
from ml.registry import Registry
from pipeline import steps
from privacy.bi_copy import bi_copy_path
from quality.runner import run_checks
from spark.catalog import thrift_cursor
from spark.views import RECORD

pytestmark = [pytest.mark.integration, pytest.mark.spark]

HORIZON = 10  # as in test_ml_pipeline.py: the small mall's 45 days cannot validate 60-day churn
DBT_SCHEMAS = ("staging", "masked", "intermediate", "marts", "ml_features")


def _columns(settings, schemas=DBT_SCHEMAS) -> dict[tuple[str, str], str]:
    con = connect(settings)
    try:
        rows = con.execute(
            "select table_schema || '.' || table_name, column_name, data_type from information_schema.columns "
            "where table_catalog = current_database() and table_schema in (select unnest(?))",
            [list(schemas)],
        ).fetchall()
    finally:
        con.close()
    return {(relation, column): kind for relation, column, kind in rows}


@pytest.fixture(scope="module")
def spark_mall(spark_built_mall):
    """The session's Spark-built small mall (conftest `spark_built_mall`, compared with
    DuckDB before this module runs), its ML features rebuilt for a horizon the 45 days can
    validate, then trained, scored and member 360 rebuilt. Yields (settings, build,
    training results, scoring results, refresh)."""
    settings, _, _ = spark_built_mall
    build = steps.build(
        settings,
        [
            "--select",
            "ml_member_features",
            "ml_member_segment_features",
            "--vars",
            json.dumps({"ml_horizon_days": HORIZON}),
        ],
        quiet=True,
    )
    trained = steps.train(settings)
    registry = Registry(settings.models_dir)
    for result in trained:
        if not result.promoted:  # 300 members, 45 days: the gate may be noise; the wiring is tested here
            registry.promote(result.model, result.version.version)
    scored = steps.score(settings)
    refresh = steps.refresh_after_scoring(settings)
    yield settings, build, trained, scored, refresh
    # The scores are external tables over this module's lake: later Spark builds of the
    # session must not read them as the source ml_scores.
    with thrift_cursor(settings) as cursor:
        for result in scored:
            cursor.execute(f"drop table if exists {result.table}")


def test_the_spark_build_is_readable_from_the_duckdb_warehouse(spark_mall, built_mall):
    settings, build, *_ = spark_mall
    assert build.success, f"Spark build failed: {build.failed}"
    con = connect(settings)
    try:
        kinds = dict(
            con.execute(
                "select table_schema || '.' || table_name, table_type from information_schema.tables "
                "where table_schema in ('marts', 'ml_features', 'masked')"
            ).fetchall()
        )
        recorded = con.execute(f"select count(*), count(reads), count(not_readable_reason) from {RECORD}").fetchone()
        consents = con.execute("select count(*) from masked.msk_membership__consents").fetchone()[0]
    finally:
        con.close()
    assert {"marts.fct_transactions", "marts.mart_member_360", "ml_features.ml_member_features"} <= set(kinds)
    assert set(kinds.values()) == {"VIEW"}  # nothing computed in DuckDB: views over Spark's files
    total, readable, on_spark_only = recorded
    assert total == readable + on_spark_only and readable > 60
    assert consents > 0  # a Spark view of the masked layer, copied to the lake for DuckDB's readers

    # The readers see the types DuckDB's own build has, column for column (timestamps
    # naive local times, `_loaded_at` an instant, decimals, dates, booleans, doubles).
    duckdb_settings, _, duckdb_ok = built_mall
    assert duckdb_ok
    on_duckdb, on_spark = _columns(duckdb_settings), _columns(settings)
    shared = set(on_duckdb) & set(on_spark)
    assert len(shared) > 900
    assert {relation for relation, _ in on_spark} <= {relation for relation, _ in on_duckdb}
    different = {key: (on_duckdb[key], on_spark[key]) for key in sorted(shared) if on_duckdb[key] != on_spark[key]}
    assert not different, f"types differ (DuckDB build, Spark through the views): {different}"


def test_ml_trains_and_scores_on_spark_and_member_360_shows_the_scores(spark_mall):
    settings, _, trained, scored, refresh = spark_mall
    assert {r.model for r in trained} == set(MODEL_NAMES)
    rows = {r.table: r.rows for r in scored}
    assert rows["ml_scores.churn_scores"] > 20 and rows["ml_scores.clv_scores"] > 20
    assert refresh.success, f"dbt build --select mart_member_360+ failed on Spark: {refresh.failed}"
    with thrift_cursor(settings) as cursor:  # the scores are Spark tables, and member 360 on Spark reads them
        cursor.execute("select count(*) from ml_scores.churn_scores")
        assert cursor.fetchone()[0] == rows["ml_scores.churn_scores"]
        cursor.execute("select count(churn_probability), count(predicted_clv) from marts.mart_member_360")
        on_spark = cursor.fetchone()
    con = connect(settings)
    try:
        through_views = con.execute(
            "select count(churn_probability), count(predicted_clv) from marts.mart_member_360"
        ).fetchone()
        disagree = con.execute(  # member 360 holds the probability as decimal(9, 6)
            "select count(*) from marts.mart_member_360 as m join ml_scores.churn_scores as s using (member_id) "
            "where m.churn_probability is distinct from cast(s.churn_probability as decimal(9, 6))"
        ).fetchone()[0]
    finally:
        con.close()
    assert on_spark[0] == rows["ml_scores.churn_scores"] and on_spark[1] > 0
    assert tuple(through_views) == tuple(on_spark)
    assert disagree == 0


def test_publications_hold_spark_marts(spark_mall):
    settings, *_ = spark_mall
    published = steps.publish(settings)
    con = connect(settings)
    try:
        marts = con.execute("select count(*) from information_schema.tables where table_schema = 'marts'").fetchone()[0]
        transactions = con.execute("select count(*) from marts.fct_transactions").fetchone()[0]
    finally:
        con.close()
    assert published.bi_copy.path == bi_copy_path(settings)
    assert len(published.bi_copy.tables) == marts > 25
    assert published.bi_copy.tables["marts.fct_transactions"] == transactions > 100
    bi = duckdb.connect(str(published.bi_copy.path), read_only=True)
    try:
        kinds = {
            r[0]
            for r in bi.execute(
                "select table_type from information_schema.tables where table_schema = 'marts'"
            ).fetchall()
        }
        scored = bi.execute("select count(churn_probability) from marts.mart_member_360").fetchone()[0]
    finally:
        bi.close()
    assert kinds == {"BASE TABLE"}  # a self-contained file for BI tools, not views over Spark's files
    assert scored > 0
    marketing = published.role_files["marketing"]
    assert marketing.path.exists() and 0 < marketing.tables["marts.dim_member"] < 300  # consenting adults only


def test_checks_pass_on_spark_and_skip_only_what_duckdb_cannot_read(spark_mall):
    settings, *_ = spark_mall
    steps.publish(settings)  # the marketing file's check needs the role files
    results = run_checks(settings)
    failed = [r.reason for r in results if r.outcome in ("failed", "error")]
    assert not failed, "\n".join(failed)
    skipped = [r for r in results if r.outcome == "skipped"]
    assert skipped and {r.layer for r in skipped} == {"staging"}
    assert all("on Spark only" in r.reason for r in skipped)
    ran = {r.layer for r in results if r.outcome == "passed"}
    assert {"raw", "masked", "marts", "publish"} <= ran


def test_status_counts_the_spark_marts(spark_mall):
    settings, *_ = spark_mall
    counts = table_counts(settings)
    assert counts["marts"]["fct_transactions"] > 100
    assert counts["ml_scores"]["churn_scores"] > 20


def test_audiences_are_built_gated_and_exported_from_the_spark_marts(spark_mall):
    """The audience models are built on Spark; the gates, the holdout and the export read
    them through the views; the ledger goes to the lake, and the activation marts on Spark
    read it."""
    settings, *_ = spark_mall
    built = [r for r in steps.audiences_build(settings) if r.status == "built"]
    assert built and sum(r.candidates for r in built) > 0
    exported = steps.audiences_export(settings)
    assert {s.status for s in exported} == {"exported"}
    marts = steps.build(settings, ["--select", "mart_audience_runs", "mart_channel_consent_coverage"], quiet=True)
    assert marts.success, marts.failed
    with thrift_cursor(settings) as cursor:
        cursor.execute("select count(*), sum(treatment_count) from marts.mart_audience_runs")
        on_spark = cursor.fetchone()
    assert on_spark == (len(exported), sum(s.rows for s in exported))


def test_an_erasure_leaves_the_lake_and_every_spark_table(spark_mall):
    """Runs last: it erases a member of the session's Spark mall. The rows leave the
    warehouse file's raw tables (the ledger), then the lake's files, then every table
    Spark rebuilt from them, and the publications."""
    settings, *_ = spark_mall
    con = connect(settings)
    try:
        member_id, mobile = con.execute(
            "select member_id, mobile from raw_membership.members where mobile is not null "
            "and member_id in (select member_id from raw_pos.transactions t join raw_membership.members m "
            "on t.member_card_no = m.card_no) order by member_id limit 1"
        ).fetchone()
    finally:
        con.close()
    with thrift_cursor(settings) as cursor:
        cursor.execute(f"select count(*) from marts.dim_member where member_id = '{member_id}'")
        assert cursor.fetchone()[0] == 1
    folder = settings.requests_path
    folder.mkdir(parents=True, exist_ok=True)
    request = {
        "request_id": "ER-SPARK",
        "type": "erasure",
        "identifiers": {"mobile": mobile},
        "received": "2026-07-01",
        "jurisdiction": "PIPL",
    }
    (folder / "ER-SPARK.json").write_text(json.dumps(request), encoding="utf-8")

    processed, problems = steps.process_requests(settings)

    assert not problems and [p["request_id"] for p in processed] == ["ER-SPARK"]
    lake = list(Path(settings.lake_url).rglob("*.parquet"))
    holding = []
    for path in lake:  # values, not bytes: the files are compressed
        table = pq.read_table(path)
        for name in table.column_names:
            if pa.types.is_string(table.schema.field(name).type) and mobile in table.column(name).to_pylist():
                holding.append(f"{path}:{name}")
    assert lake and not holding, f"the lake still holds the erased mobile: {holding}"
    with thrift_cursor(settings) as cursor:
        for table in ("marts.dim_member", "marts.mart_member_360", "ml_features.ml_member_features"):
            cursor.execute(f"select count(*) from {table} where member_id = '{member_id}'")
            assert cursor.fetchone()[0] == 0, f"{table} still holds the erased member on Spark"
    con = connect(settings)
    try:  # the views every later step reads
        assert con.execute("select count(*) from marts.dim_member where member_id = ?", [member_id]).fetchone()[0] == 0
    finally:
        con.close()
    assert not (settings.privacy_path / "spark_rebuild_pending").exists()
