"""The pieces of spark/views.py that need no cluster: reading the metastore's description
of a table, and the view's expression per column (types as DuckDB's own build has them)."""

from __future__ import annotations

from datetime import datetime

import duckdb

from spark.views import SparkRelation, _parse_information, _Types, column_expression, spark_duckdb_type, view_sql

PARTITIONED = """Catalog: spark_catalog
Database: marts
Table: zz_part
Type: MANAGED
Provider: parquet
Comment: Stores of the mall.
Location: a line of the comment that looks like a field
Type: VIEW (also the comment)
Location: file:/tmp/x/warehouse/marts.db/zz_part
Partition Provider: Catalog
Partition Columns: [`code`, `d`]
Schema: root
 |-- a: integer (nullable = true)
 |-- ts: timestamp (nullable = true)
 |-- amt: decimal(18,2) (nullable = true)
 |-- tags: struct (nullable = true)
 |    |-- inner: string (nullable = true)
 |-- code: string (nullable = true)
 |-- d: date (nullable = true)
"""


def test_the_metastore_description_is_read():
    rel = _parse_information("marts", "zz_part", PARTITIONED)
    assert rel.kind == "MANAGED"
    assert rel.location == "file:/tmp/x/warehouse/marts.db/zz_part"
    assert rel.partition_columns == ["code", "d"]
    assert [c for c, _ in rel.columns] == ["a", "ts", "amt", "tags", "code", "d"]  # nested fields are not columns
    assert dict(rel.columns)["amt"] == "decimal(18,2)"


def test_spark_types_read_as_duckdb_reads_the_parquet():
    assert spark_duckdb_type("decimal(18,2)") == "DECIMAL(18,2)"
    assert spark_duckdb_type("timestamp") == "TIMESTAMP WITH TIME ZONE"  # an instant (TIMESTAMP_MICROS, UTC)
    assert spark_duckdb_type("timestamp_ntz") == "TIMESTAMP"
    assert spark_duckdb_type("long") == "BIGINT"


def test_column_expressions_give_the_duckdb_builds_types():
    con = duckdb.connect()
    types = _Types(con)
    con.execute("set TimeZone = 'Asia/Shanghai'")  # the session's zone must not shift wall-clock times
    con.execute(
        "create table t as select timestamptz '2026-05-20 10:11:12+00' as ts, timestamptz '2026-05-20 10:11:12+00' "
        "as _loaded_at, 7::integer as n, 1.5::decimal(18, 2) as amt"
    )
    select = ", ".join(
        [
            column_expression("ts", "timestamp", None, types),  # local wall clock: naive
            column_expression("_loaded_at", "timestamp", None, types),  # an instant stays one
            column_expression("n", "integer", "bigint", types),  # declared by dbt: cast
            column_expression("amt", "decimal(18,2)", "decimal(18, 2)", types),  # same type: as is
        ]
    )
    described = {name: kind for name, kind, *_ in con.execute(f"describe select {select} from t").fetchall()}
    assert described == {
        "ts": "TIMESTAMP",
        "_loaded_at": "TIMESTAMP WITH TIME ZONE",
        "n": "BIGINT",
        "amt": "DECIMAL(18,2)",
    }
    assert con.execute(f"select {select} from t").fetchone()[0] == datetime(2026, 5, 20, 10, 11, 12)
    assert column_expression("amt", "decimal(18,2)", "decimal(18, 2)", types) == '"amt"'


def test_a_table_without_files_is_an_empty_typed_view(tmp_path):
    con = duckdb.connect()
    rel = SparkRelation("marts", "empty", "MANAGED", None, [], [("a", "integer"), ("ts", "timestamp")])
    select, reads = view_sql(con, rel, str(tmp_path), {"ts": None, "a": "bigint"}, _Types(con))
    assert reads == "(no files)"
    described = [(name, kind) for name, kind, *_ in con.execute(f"describe {select}").fetchall()]
    assert described == [("ts", "TIMESTAMP"), ("a", "BIGINT")]  # dbt's declared order, DuckDB's types
