"""The same small mall through ingest and build on DuckDB and on a local Spark cluster:
every staging, masked, intermediate, mart and ML feature table must be equal, row for row.

A build that passes proves little: a DuckDB-only function once returned NULLs on Spark
without an error. So the Spark side is built the way production runs it, a first build
on all but the last day, then the daily load and an incremental build, and compared with
DuckDB's full build of every day (spark.compare: equal keys, equal values, floats
within 1e-9 relative). A difference fails with the table, the column and example rows.
"""

from __future__ import annotations

import pytest

from spark.compare import LAYERS, compare, report

pytestmark = [pytest.mark.integration, pytest.mark.spark]


def test_the_spark_builds_pass_their_data_and_unit_tests(spark_built_mall):
    _, first, daily = spark_built_mall
    assert first.success, f"first Spark build failed: {first.failed}"
    assert daily.success, f"daily Spark build failed: {daily.failed}"
    assert first.statuses["pass"] > 300  # models, data tests, unit tests and contracts ran


def test_every_model_equals_the_duckdb_build(built_mall, spark_built_mall):
    duckdb_settings, _, duckdb_ok = built_mall
    assert duckdb_ok
    spark_settings, _, daily = spark_built_mall
    assert daily.success
    diffs = compare(duckdb_settings, spark_settings)
    layers = {d.table.split(".")[0] for d in diffs}
    assert {"staging", "masked", "marts", "ml_features"} <= layers, f"compared only the schemas {layers} of {LAYERS}"
    assert len(diffs) > 60
    assert sum(d.rows_duckdb for d in diffs) > 10_000  # real data, not empty tables
    different = [d for d in diffs if not d.equal]
    assert not different, "Spark differs from DuckDB:\n" + report(different)
