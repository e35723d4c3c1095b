"""Spark's tables, readable from the DuckDB warehouse file (engine spark).

Every step after the build reads the warehouse through `mallcrm.core.warehouse.connect`:
ML training and scoring, the BI copy and the role files, the Soda checks, `mallcrm
status`. On engine spark dbt builds its relations on the cluster, as Parquet files, so
after each Spark build (`pipeline.steps.build`) `publish_spark_views` creates in the
DuckDB file, for each relation dbt made on Spark, a view `<schema>.<table>` over the
table's files. Every reader then works unchanged (one code path), and a BI tool opening
the DuckDB file sees Spark's marts. The views read the files at query time: a later
Spark build is seen at once, and only a change of columns needs publishing again.

Which relations (the schemas of dbt's models, seeds and snapshots, from its manifest):

- Spark **tables** (managed or external Parquet): a view over
  `read_parquet('<location>/*.parquet')`, or `<location>/**/*.parquet` with hive
  partitioning for a partitioned table. A table without files yet (Spark wrote none)
  is an empty view with the table's columns.
- Spark **views** are SQL that only Spark can run (Spark functions, the masking UDF), so
  they have no files. Those of the masked layer (`SNAPSHOT_SCHEMAS`) have readers on
  DuckDB (the Soda contracts of the masked layer, the marketing consent the role files
  apply), so Spark writes each one's result into the lake, `<lake>/_spark_views/<schema>/
  <view>/`, on every publish, and DuckDB reads that. Staging and intermediate views are
  not copied: staging holds personal data in clear, which must not be copied outside
  the relations dbt and erasure know, and no reader needs the intermediate views. Their
  contracts are skipped with that reason (quality/runner.py).

Every relation seen, readable or not, is recorded in the DuckDB table `spark.relations`
(what, where, why not); the next publish drops the views of relations Spark no longer
has. A DuckDB-built relation of the same name (the warehouse was built on DuckDB before)
is replaced: with engine spark the Spark build is what readers must see.

Types. DuckDB reads Spark's Parquet faithfully, but a few types differ from what the
same model built on DuckDB has, which the readers (pandas frames for ML, the role files'
`create table as`) would carry on. Each column is cast to the type dbt declares for it
(the models' contracts) when declared, else:

- Spark's TIMESTAMP is an instant (Parquet TIMESTAMP_MICROS adjusted to UTC, read by
  DuckDB as TIMESTAMP WITH TIME ZONE); the models hold local wall-clock times, which the
  cluster (session zone UTC) stores as the UTC instant of that wall clock. So it becomes
  `timezone('UTC', c)`: the same naive TIMESTAMP DuckDB builds, whatever DuckDB's own
  TimeZone setting. `_loaded_at` (`INSTANT_COLUMNS`), a real instant, stays WITH TIME ZONE.
- other types are read as they are (DECIMAL, DOUBLE, DATE, BOOLEAN, INTEGER ... map one
  to one), declared ones cast to the declaration (e.g. Spark's INT for a BIGINT).

Column order: Spark puts a partitioned table's partition columns last; the view lists
the columns in dbt's declared order when every column is declared, as DuckDB's build does.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field

from mallcrm.core.dbt import load_manifest
from mallcrm.core.settings import Settings
from mallcrm.core.warehouse import connect
from spark.catalog import thrift_cursor

RECORD_SCHEMA = "spark"
RECORD = f"{RECORD_SCHEMA}.relations"
SNAPSHOT_SCHEMAS = ("masked",)
SNAPSHOT_FOLDER = "_spark_views"
INSTANT_COLUMNS = ("_loaded_at",)
# Spark's type names (StructType.treeString) -> DuckDB's, as DuckDB reads Spark's Parquet.
SPARK_TYPES = {
    "string": "VARCHAR",
    "integer": "INTEGER",
    "long": "BIGINT",
    "short": "SMALLINT",
    "byte": "TINYINT",
    "double": "DOUBLE",
    "float": "FLOAT",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp": "TIMESTAMP WITH TIME ZONE",
    "timestamp_ntz": "TIMESTAMP",
    "binary": "BLOB",
}
# Spark spellings a dbt data_type may use, in DuckDB's words.
DECLARED_ALIASES = {"timestamp_ntz": "timestamp", "timestamp_ltz": "timestamptz", "long": "bigint", "string": "varchar"}
NOT_READABLE = {
    "staging": "a Spark view of the staging layer, which holds personal data in clear: not copied out of Spark",
    "intermediate": "a Spark view no DuckDB reader needs: not copied out of Spark",
}


class SparkViewError(RuntimeError):
    """A Spark relation could not be made readable from DuckDB."""


@dataclass(frozen=True)
class SparkRelation:
    schema: str
    name: str
    kind: str  # MANAGED | EXTERNAL | VIEW
    location: str | None
    partition_columns: list[str]
    columns: list[tuple[str, str]]  # (name, Spark type name)

    @property
    def relation(self) -> str:
        return f"{self.schema}.{self.name}"


@dataclass
class SparkViews:
    """What one publish did: relation -> where DuckDB reads it, and what it could not read."""

    readable: dict[str, str] = field(default_factory=dict)  # relation -> files read
    snapshots: list[str] = field(default_factory=list)  # Spark views copied to the lake
    not_readable: dict[str, str] = field(default_factory=dict)  # relation -> why
    dropped: list[str] = field(default_factory=list)  # views of relations Spark no longer has
    replaced: list[str] = field(default_factory=list)  # DuckDB-built relations replaced


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _bq(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def dbt_relations(settings: Settings) -> tuple[list[str], dict[str, dict[str, str | None]]]:
    """(schemas dbt builds into, the declared columns of each `schema.name` in their
    order, with their declared type or None) from the manifest."""
    manifest = load_manifest(settings)
    schemas: set[str] = set()
    declared: dict[str, dict[str, str | None]] = {}
    for node in manifest["nodes"].values():
        if node["resource_type"] not in ("model", "seed", "snapshot"):
            continue
        schemas.add(node["schema"])
        types = {name: spec.get("data_type") or None for name, spec in node["columns"].items()}
        declared[f"{node['schema']}.{node.get('alias') or node['name']}"] = types
    return sorted(schemas), declared


def _parse_information(schema: str, name: str, info: str) -> SparkRelation:
    """One entry of `show table extended`: Type, Location, Partition Columns, Schema."""
    fields: dict[str, list[str]] = {}
    columns: list[tuple[str, str]] = []
    for line in info.splitlines():
        if line.startswith(" |-- "):  # top-level columns only; nested fields are indented further
            column, _, rest = line[len(" |-- ") :].partition(": ")
            columns.append((column, rest.rsplit(" (nullable", 1)[0].strip()))
        elif ": " in line and not line.startswith(" "):
            key, _, value = line.partition(": ")
            fields.setdefault(key.strip(), []).append(value.strip())
    # The table's comment (dbt's description, persisted) comes after Type and before
    # Location and Partition Columns, and may hold lines that look like fields.
    kind = fields.get("Type", [""])[0]
    location = fields.get("Location", [None])[-1]
    partitions = fields.get("Partition Columns", [""])[-1]
    return SparkRelation(
        schema=schema,
        name=name,
        kind=kind.upper(),
        location=location,
        partition_columns=re.findall(r"`((?:[^`]|``)+)`", partitions),
        columns=columns,
    )


def spark_relations(cursor, schemas: list[str]) -> list[SparkRelation]:
    """Every table and view of `schemas` in the metastore (one statement per schema)."""
    cursor.execute("show databases")
    present = {row[0] for row in cursor.fetchall()}
    out = []
    for schema in schemas:
        if schema not in present:
            continue
        cursor.execute(f"show table extended in {_bq(schema)} like '*'")
        for row in cursor.fetchall():
            if row[2]:  # a temporary view of a session: not dbt's
                continue
            out.append(_parse_information(schema, row[1], row[-1]))
    return out


def _local(location: str) -> str:
    """A metastore location as DuckDB opens it (`file:/x` -> `/x`)."""
    return re.sub(r"^file:(//)?", "", location)


def snapshot_location(settings: Settings, schema: str, name: str) -> str:
    return posixpath.join(settings.lake_url, SNAPSHOT_FOLDER, schema, name)


class _Types:
    """DuckDB's canonical name of a type (`decimal(18, 2)` -> `DECIMAL(18,2)`), cached."""

    def __init__(self, con) -> None:
        self.con = con
        self.cache: dict[str, str | None] = {}

    def canonical(self, type_name: str) -> str | None:
        key = type_name.strip().lower()
        key = DECLARED_ALIASES.get(key, key)
        if key not in self.cache:
            try:
                self.cache[key] = self.con.execute(f"select typeof(cast(null as {key}))").fetchone()[0]
            except Exception:  # noqa: BLE001 - a type DuckDB does not know: no cast
                self.cache[key] = None
        return self.cache[key]


def spark_duckdb_type(spark_type: str) -> str | None:
    """The DuckDB type DuckDB reads a Spark column of `spark_type` as (None: nested types)."""
    decimal = re.fullmatch(r"decimal\((\d+),\s*(\d+)\)", spark_type)
    if decimal:
        return f"DECIMAL({decimal.group(1)},{decimal.group(2)})"
    return SPARK_TYPES.get(spark_type)


def column_expression(column: str, spark_type: str, declared: str | None, types: _Types) -> str:
    """The view's expression for one column (see the module docstring, Types)."""
    source = spark_duckdb_type(spark_type)
    target = types.canonical(declared) if declared else None
    ref = _q(column)
    if source == "TIMESTAMP WITH TIME ZONE":
        if target is None:
            target = source if column in INSTANT_COLUMNS else "TIMESTAMP"
        if target == source:
            return ref
        wall_clock = f"timezone('UTC', {ref})"
        return f"{wall_clock} as {ref}" if target == "TIMESTAMP" else f"cast({wall_clock} as {target}) as {ref}"
    if target is None or target == source:
        return ref
    return f"cast({ref} as {target}) as {ref}"


def _files(con, relation: SparkRelation, location: str) -> str | None:
    """The glob DuckDB reads, or None when there is no data file yet."""
    pattern = posixpath.join(location, "**/*.parquet" if relation.partition_columns else "*.parquet")
    found = con.execute("select count(*) from glob(?)", [pattern]).fetchone()[0]
    return pattern if found else None


def _ordered(relation: SparkRelation, declared: dict[str, str | None]) -> list[tuple[str, str]]:
    """The columns in the order dbt declares them, when it declares every one: Spark puts
    a partitioned table's partition columns last, DuckDB keeps the model's order."""
    spark_types = dict(relation.columns)
    if set(declared) == set(spark_types):
        return [(name, spark_types[name]) for name in declared]
    return relation.columns


def view_sql(
    con, relation: SparkRelation, location: str, declared: dict[str, str | None], types: _Types
) -> tuple[str, str]:
    """(select of the view, what it reads) for a relation whose files are at `location`."""
    columns_in_order = _ordered(relation, declared)
    pattern = _files(con, relation, location)
    if pattern is None:  # no file yet: typed, empty
        columns = []
        for name, spark_type in columns_in_order:
            target = types.canonical(declared[name]) if declared.get(name) else None
            source = spark_duckdb_type(spark_type) or "VARCHAR"
            if source == "TIMESTAMP WITH TIME ZONE" and name not in INSTANT_COLUMNS:
                source = "TIMESTAMP"
            columns.append(f"cast(null as {target or source}) as {_q(name)}")
        return f"select {', '.join(columns)} where false", "(no files)"
    exprs = [column_expression(n, t, declared.get(n), types) for n, t in columns_in_order]
    options = ""
    if relation.partition_columns:  # typed as Spark has them: no guessing from the folder names
        spark_types = dict(relation.columns)
        hive_types = ", ".join(
            f"{_lit(c)}: {_lit(spark_duckdb_type(spark_types.get(c, 'string')) or 'VARCHAR')}"
            for c in relation.partition_columns
        )
        options = f", hive_partitioning = true, hive_types = {{{hive_types}}}"
    return f"select {', '.join(exprs)} from read_parquet({_lit(pattern)}{options})", pattern


def _snapshot(cursor, settings: Settings, relation: SparkRelation) -> str:
    """Have Spark write the view's rows into the lake; returns the folder."""
    location = snapshot_location(settings, relation.schema, relation.name)
    target = location if "://" in location else "file:" + location
    cursor.execute(
        f"insert overwrite directory {_lit(target)} using parquet "
        f"select * from {_bq(relation.schema)}.{_bq(relation.name)}"
    )
    return location


def _record_table(con) -> None:
    con.execute(f"create schema if not exists {RECORD_SCHEMA}")
    con.execute(
        f"create table if not exists {RECORD} (schema_name varchar, table_name varchar, spark_type varchar, "
        "location varchar, reads varchar, not_readable_reason varchar, published_at timestamp)"
    )


def _duckdb_relations(con, schemas: list[str]) -> dict[str, str]:
    rows = con.execute(
        "select table_schema || '.' || table_name, table_type from information_schema.tables "
        "where table_catalog = current_database() and table_schema in (select unnest(?))",
        [schemas],
    ).fetchall()
    return dict(rows)


def _replace_views(con, located, declared, types, published_before, in_duckdb, result: SparkViews) -> None:
    for rel, location in located:
        select, reads = view_sql(con, rel, location, declared.get(rel.relation, {}), types)
        kind = in_duckdb.get(rel.relation)
        if kind is not None and rel.relation not in published_before:
            result.replaced.append(rel.relation)
        if kind == "BASE TABLE":
            con.execute(f"drop table {_q(rel.schema)}.{_q(rel.name)}")
        con.execute(f"create schema if not exists {_q(rel.schema)}")
        con.execute(f"create or replace view {_q(rel.schema)}.{_q(rel.name)} as {select}")
        result.readable[rel.relation] = reads
    for relation in sorted(published_before - set(result.readable)):
        schema, name = relation.split(".", 1)
        if in_duckdb.get(relation) == "VIEW":
            con.execute(f"drop view {_q(schema)}.{_q(name)}")
            result.dropped.append(relation)


def publish_spark_views(settings: Settings) -> SparkViews:
    """Make every relation the dbt build made on Spark readable from the DuckDB warehouse
    (see the module docstring). Call it under the write lock (pipeline.steps.build)."""
    schemas, declared = dbt_relations(settings)
    result = SparkViews()
    located: list[tuple[SparkRelation, str]] = []
    with thrift_cursor(settings) as cursor:
        relations = spark_relations(cursor, schemas)
        for rel in relations:
            if rel.kind != "VIEW":
                if not rel.location:
                    raise SparkViewError(f"Spark table {rel.relation} has no location in the metastore")
                located.append((rel, _local(rel.location)))
            elif rel.schema in SNAPSHOT_SCHEMAS:
                located.append((rel, _local(_snapshot(cursor, settings, rel))))
                result.snapshots.append(rel.relation)
            else:
                result.not_readable[rel.relation] = NOT_READABLE.get(
                    rel.schema, "a Spark view: not copied out of Spark"
                )
    con = connect(settings)
    try:
        _record_table(con)
        published_before = {
            r[0]
            for r in con.execute(
                f"select schema_name || '.' || table_name from {RECORD} where reads is not null"
            ).fetchall()
        }
        in_duckdb = _duckdb_relations(con, schemas)
        types = _Types(con)
        con.execute("begin")
        try:
            _replace_views(con, located, declared, types, published_before, in_duckdb, result)
            con.execute(f"delete from {RECORD}")
            rows = [
                (
                    r.schema,
                    r.name,
                    r.kind,
                    r.location,
                    result.readable.get(r.relation),
                    result.not_readable.get(r.relation),
                )
                for r in relations
            ]
            if rows:
                con.executemany(f"insert into {RECORD} values (?, ?, ?, ?, ?, ?, current_localtimestamp())", rows)
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise
    finally:
        con.close()
    return result


def not_readable(con) -> dict[str, str]:
    """`schema.table` -> why it is on Spark but not readable from this DuckDB file (empty
    when the warehouse was not built on Spark)."""
    exists = con.execute(
        "select count(*) from information_schema.tables where table_catalog = current_database() "
        "and table_schema = ? and table_name = 'relations'",
        [RECORD_SCHEMA],
    ).fetchone()[0]
    if not exists:
        return {}
    rows = con.execute(
        f"select schema_name || '.' || table_name, not_readable_reason from {RECORD} "
        "where not_readable_reason is not null"
    ).fetchall()
    return dict(rows)
