"""The same small mall through ingest and build on DuckDB and on a local Spark cluster:
every staging, masked, intermediate, mart and ML feature table must be equal, row for row.

A build that passes proves little: a DuckDB-only function once returned NULLs on Spark
without an error. So the Spark side is built the way production runs it, a first build
on all but the last day, then the daily load and an incremental build, and compared with
DuckDB's full build of every day (spark.compare: equal keys, equal values, floats
within 1e-9 relative). A difference fails with the table, the column and example rows.

Both engines build from the same raw rows: the Spark mall's ingest ledger (the raw
tables of its DuckDB file, which the lake mirrors) is copied into a fresh DuckDB
warehouse and built there. Two separate ingests would differ in every load time
(`_loaded_at`, `ingested_at` and the keys made from them), which would hide nothing
but prove less: with one ledger every column is compared, none is excused.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from mallcrm.core.warehouse import connect
from pipeline import steps
from spark.compare import LAYERS, compare, report

pytestmark = [pytest.mark.integration, pytest.mark.spark]


def test_the_spark_builds_pass_their_data_and_unit_tests(spark_built_mall):
    _, first, daily = spark_built_mall
    assert first.success, f"first Spark build failed: {first.failed}"
    assert daily.success, f"daily Spark build failed: {daily.failed}"
    assert first.statuses["pass"] > 300  # models, data tests, unit tests and contracts ran


@pytest.fixture(scope="module")
def duckdb_twin(spark_built_mall, tmp_path_factory):
    """A DuckDB warehouse holding the Spark mall's raw tables, fully built on DuckDB."""
    spark_settings, _, _ = spark_built_mall
    warehouse = tmp_path_factory.mktemp("duckdb_twin") / "warehouse" / "mallcrm.duckdb"
    settings = replace(spark_settings, engine="duckdb", warehouse=warehouse, dlt_dir=warehouse.parent / ".dlt", lake="")
    warehouse.parent.mkdir(parents=True)
    con = connect(spark_settings)  # the ledger, opened the one way the project opens it
    try:
        con.execute(f"attach '{warehouse}' as twin")
        raw = con.execute(
            "select schema_name, table_name from duckdb_tables() "
            "where database_name = current_database() and starts_with(schema_name, 'raw_')"
        ).fetchall()
        for schema, table in raw:
            con.execute(f'create schema if not exists twin."{schema}"')
            con.execute(f'create table twin."{schema}"."{table}" as select * from "{schema}"."{table}"')
        con.execute("detach twin")
    finally:
        con.close()
    assert raw
    yield settings, steps.build(settings, quiet=True)


def test_every_model_equals_the_duckdb_build(duckdb_twin, spark_built_mall):
    duckdb_settings, duckdb_build = duckdb_twin
    assert duckdb_build.success, f"DuckDB build failed: {duckdb_build.failed}"
    spark_settings, _, daily = spark_built_mall
    assert daily.success
    diffs = compare(duckdb_settings, spark_settings)
    layers = {d.table.split(".")[0] for d in diffs}
    assert {"staging", "masked", "marts", "ml_features"} <= layers, f"compared only the schemas {layers} of {LAYERS}"
    assert len(diffs) > 60
    assert sum(d.rows_duckdb for d in diffs) > 10_000  # real data, not empty tables
    different = [d for d in diffs if not d.equal]
    assert not different, "Spark differs from DuckDB:\n" + report(different)
