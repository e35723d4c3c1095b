"""Cross-engine comparison: every model built on Spark equals the same model built on DuckDB.

Portability is proven by results, not by a build that passes (a DuckDB-only regex once
returned NULLs on Spark without an error). For each dbt model of the compared layers this
reads the relation from the DuckDB warehouse and from the Spark cluster, puts every value
in one canonical form, and compares them row for row:

- keys and row counts must be equal;
- numbers compare as floats within `REL_TOL` relative (or `ABS_TOL` absolute near zero);
- instants compare in UTC to the microsecond, dates as ISO dates, text exactly.

A difference names the table, the column and example rows. Run it by hand:

    MALLCRM_ENGINE=spark python -m spark.compare [--layer marts ...] [--duckdb-warehouse W]
"""

from __future__ import annotations

import argparse
import datetime as dt
import decimal
import json
import math
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mallcrm.core.dbt import load_manifest
from mallcrm.core.settings import Settings, load_settings
from mallcrm.core.warehouse import connect
from spark.catalog import thrift_cursor

REL_TOL = 1e-9
ABS_TOL = 1e-9
# The layers whose every model is compared (dbt folders under models/).
LAYERS = ("staging", "masked", "intermediate", "marts", "ml")
# Columns that record when or where a build ran, not what it computed.
BUILD_COLUMNS = {"built_at", "_dbt_built_at"}
EXAMPLES = 3


@dataclass
class TableDiff:
    table: str
    rows_duckdb: int
    rows_spark: int
    problems: list[str] = field(default_factory=list)

    @property
    def equal(self) -> bool:
        return not self.problems


def compared_relations(settings: Settings, layers: tuple[str, ...] = LAYERS) -> list[str]:
    """`schema.name` of every model (not ephemeral) in `layers`, from dbt's manifest."""
    manifest = load_manifest(settings)
    out = []
    for node in manifest["nodes"].values():
        if node["resource_type"] != "model" or node["config"].get("materialized") == "ephemeral":
            continue
        if not node["config"].get("enabled", True):
            continue
        layer = node["fqn"][1] if len(node["fqn"]) > 2 else ""
        if layer in layers:
            out.append(f"{node['schema']}.{node['alias'] or node['name']}")
    return sorted(out)


def canonical(value: Any) -> Any:
    """One comparable form per value, whichever engine and driver produced it."""
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int | decimal.Decimal):
        return float(value)
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value.isoformat(sep=" ", timespec="microseconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list | tuple | dict):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def _spark_canonical(value: Any, duck_type: str) -> Any:
    """Spark's Thrift driver returns timestamps, dates and decimals as text: read them back
    as the type the DuckDB column has, then canonicalize."""
    if value is None or not isinstance(value, str):
        return canonical(value)
    kind = duck_type.upper()
    if kind.startswith("TIMESTAMP"):
        return canonical(dt.datetime.fromisoformat(value))
    if kind == "DATE":
        return value[:10]
    if kind.startswith(("DECIMAL", "DOUBLE", "FLOAT", "REAL", "BIGINT", "INTEGER", "HUGEINT", "SMALLINT")):
        return float(value)
    if kind == "BOOLEAN":
        return value.lower() == "true"
    return value


def spark_error(error: BaseException) -> str:
    """The one informative line of a Thrift server error (PyHive prints the Java stack)."""
    text = getattr(getattr(getattr(error, "args", [None])[0], "status", None), "errorMessage", None) or str(error)
    return text.strip().splitlines()[0][:300]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=ABS_TOL)
    return a == b


def _sort_key(row: tuple) -> tuple:
    # Floats are rounded for ordering only, so rows that differ in the last bits still pair up.
    return tuple((0, "") if v is None else (1, f"{v:.9g}" if isinstance(v, float) else str(v)) for v in row)


def compare_table(duck, spark_cursor, relation: str) -> TableDiff:
    duck_cols = duck.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = ? and table_name = ? order by ordinal_position",
        relation.split("."),
    ).fetchall()
    if not duck_cols:
        return TableDiff(relation, 0, 0, ["missing in DuckDB"])
    try:
        spark_cursor.execute(f"describe {relation}")
    except Exception as error:  # noqa: BLE001 - any driver error means: not there
        return TableDiff(relation, 0, 0, [f"missing in Spark ({spark_error(error)})"])
    spark_cols = []
    for name, _type, *_ in spark_cursor.fetchall():
        if not name or name.startswith("#"):
            break
        spark_cols.append(name)
    duck_names = [c for c, _ in duck_cols]
    problems = []
    if {c.lower() for c in duck_names} != {c.lower() for c in spark_cols}:
        only_d = sorted(set(duck_names) - set(spark_cols))
        only_s = sorted(set(spark_cols) - set(duck_names))
        problems.append(f"columns differ: only in DuckDB {only_d}, only in Spark {only_s}")
    columns = [(c, t) for c, t in duck_cols if c in spark_cols and c not in BUILD_COLUMNS]
    select = ", ".join(f"`{c}`" for c, _ in columns)
    duck_rows = [
        tuple(canonical(v) for v in row)
        for row in duck.execute(
            f"select {', '.join(chr(34) + c + chr(34) for c, _ in columns)} from {relation}"
        ).fetchall()
    ]
    spark_cursor.execute(f"select {select} from {relation}")
    spark_rows = [
        tuple(_spark_canonical(v, t) for v, (_, t) in zip(row, columns, strict=True)) for row in spark_cursor.fetchall()
    ]
    diff = TableDiff(relation, len(duck_rows), len(spark_rows), problems)
    if len(duck_rows) != len(spark_rows):
        diff.problems.append(f"row counts differ: DuckDB {len(duck_rows)}, Spark {len(spark_rows)}")
    duck_rows.sort(key=_sort_key)
    spark_rows.sort(key=_sort_key)
    bad: dict[str, list[str]] = {}
    for d_row, s_row in zip(duck_rows, spark_rows, strict=False):
        for i, (name, _) in enumerate(columns):
            if not _same(d_row[i], s_row[i]):
                examples = bad.setdefault(name, [])
                if len(examples) < EXAMPLES:
                    row = dict(zip([c for c, _ in columns], d_row, strict=True))
                    examples.append(f"DuckDB {d_row[i]!r} vs Spark {s_row[i]!r} in row {row}")
                break  # the first differing column of a row is the informative one
    for name, examples in bad.items():
        diff.problems.append(f"column {name}: " + "; ".join(examples))
    return diff


def compare(
    duckdb_settings: Settings,
    spark_settings: Settings,
    layers: tuple[str, ...] = LAYERS,
    relations: list[str] | None = None,
) -> list[TableDiff]:
    """Compare every model of `layers` (or the given `schema.name` relations) as built in
    the DuckDB warehouse of `duckdb_settings` and on the cluster of `spark_settings`."""
    relations = relations or compared_relations(duckdb_settings, layers)
    duck = connect(duckdb_settings)
    try:
        with thrift_cursor(spark_settings) as cursor:
            return [compare_table(duck, cursor, relation) for relation in relations]
    finally:
        duck.close()


def report(diffs: list[TableDiff]) -> str:
    lines = []
    for d in diffs:
        state = "equal" if d.equal else "DIFFERENT"
        lines.append(f"{d.table:<60} {d.rows_duckdb:>8} {d.rows_spark:>8}  {state}")
        lines.extend(f"    {p}" for p in d.problems)
    equal = sum(d.equal for d in diffs)
    lines.append(f"{equal} of {len(diffs)} tables equal")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layer", action="append", choices=LAYERS, help="compare only these layers")
    parser.add_argument("--table", action="append", help="compare only these schema.name relations")
    parser.add_argument(
        "--duckdb-warehouse",
        type=Path,
        help="the DuckDB-built warehouse to compare with (default: MALLCRM_WAREHOUSE, built with engine duckdb)",
    )
    args = parser.parse_args(argv)
    spark_settings = load_settings()
    duckdb_settings = replace(
        spark_settings, engine="duckdb", warehouse=args.duckdb_warehouse or spark_settings.warehouse
    )
    diffs = compare(duckdb_settings, spark_settings, tuple(args.layer or LAYERS), args.table)
    print(report(diffs))
    return 0 if all(d.equal for d in diffs) else 1


if __name__ == "__main__":
    sys.exit(main())
