"""The lake: the raw tables as Parquet files a Spark cluster reads (engine spark).

Ingestion keeps its ledger in the DuckDB warehouse on every engine: the contract checks,
`ingested_files`, the quarantine and the cross-row rules need transactions and DELETEs,
which Parquet files in a folder cannot give (Delta or Iceberg could; their jars cannot be
fetched here, see docs/scale-out.md). After each load, `sync_lake` publishes every raw
table to the lake as one Parquet file per dlt load:

    <lake>/<dataset>/<table>/<_dlt_load_id>.parquet      e.g. raw_pos/transactions/1796477845.07.parquet

A load's file is (re)written when the load's rows changed: new rows, rows a cross-row rule
moved to quarantine, rows an erasure or retention purge removed. Each table's loads are
fingerprinted in DuckDB (row count and a sum of row hashes) and compared with the lake's
manifest, so a daily run writes the new loads plus the few that changed, not the history;
and whatever the warehouse no longer holds is gone from the lake after the next sync.

Crash-safe: files are written beside their target and renamed into place, the manifest
last; a killed sync leaves files the manifest does not know yet, and the re-run rewrites
them to the same content. The lake URL may be a folder or an object-store URL: the file
system comes from dlt's filesystem configuration (`dlt.destinations.filesystem`'s
credentials, e.g. DESTINATION__FILESYSTEM__CREDENTIALS__AWS_ACCESS_KEY_ID).
"""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass, field

import pyarrow.parquet as pq

from mallcrm.core.contract import load_contract
from mallcrm.core.settings import Settings
from mallcrm.core.warehouse import connect
from spark.lake import lake_filesystem, write_atomic

MANIFEST = "_mallcrm_lake_manifest.json"
LOAD_COLUMN = "_dlt_load_id"
# Parquet row groups of this many rows: large enough for Spark's scans, small enough to
# stream a big first load through Arrow batches.
ROW_GROUP = 256_000


@dataclass
class LakeSync:
    """What one sync wrote: per table, the loads written and the loads removed."""

    written: dict[str, list[str]] = field(default_factory=dict)
    removed: dict[str, list[str]] = field(default_factory=dict)
    tables: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # table -> (column, duckdb type)
    loads_in_lake: dict[str, int] = field(default_factory=dict)  # table -> files in the lake after the sync

    @property
    def changed_tables(self) -> list[str]:
        return sorted(set(self.written) | set(self.removed))

    def files_written(self) -> int:
        return sum(len(v) for v in self.written.values())


def _raw_tables(con, datasets: list[str]) -> dict[str, list[tuple[str, str]]]:
    """Every raw table that carries `_dlt_load_id` (not dlt's own bookkeeping), with its columns."""
    rows = con.execute(
        """
        select schema_name || '.' || table_name, list(column_name order by column_index),
               list(data_type order by column_index)
        from duckdb_columns()
        where schema_name in (select unnest(?)) and not starts_with(table_name, '_dlt')
        group by 1
        having list_contains(list(column_name), ?)
        order by 1
        """,
        [datasets, LOAD_COLUMN],
    ).fetchall()
    return {name: list(zip(cols, types, strict=True)) for name, cols, types in rows}


def _fingerprints(con, table: str) -> dict[str, list[int | str]]:
    """Per load of `table`: [row count, sum of row hashes as text] (any change shows)."""
    rows = con.execute(
        f"select {LOAD_COLUMN}, count(*), cast(sum(cast(hash(t) as hugeint)) as varchar) from {table} as t group by 1"
    ).fetchall()
    return {load: [count, digest] for load, count, digest in rows}


def _read_manifest(fs, root: str) -> dict:
    path = posixpath.join(root, MANIFEST)
    if not fs.exists(path):
        return {}
    with fs.open(path, "rb") as fh:
        return json.loads(fh.read())


def sync_lake(settings: Settings, systems: list[str] | None = None) -> LakeSync:
    """Bring the lake in line with the raw tables of `systems` (default: all)."""
    contract = load_contract()
    datasets = [contract.dataset(system) for system in (systems or contract.systems)]
    fs, root = lake_filesystem(settings)
    fs.makedirs(root, exist_ok=True)
    manifest = _read_manifest(fs, root)
    result = LakeSync()
    con = connect(settings)
    try:
        tables = _raw_tables(con, datasets)
        for table, columns in tables.items():
            result.tables[table] = columns
            before = manifest.get(table, {})
            schema = [f"{c} {t}" for c, t in columns]
            now = _fingerprints(con, table)
            stale = before.get("schema") != schema
            loads = before.get("loads", {})
            changed = sorted(load for load, fp in now.items() if stale or loads.get(load) != fp)
            gone = sorted(set(loads) - set(now))
            folder = posixpath.join(root, *table.split("."))
            for load in changed:
                _write_load(fs, con, table, load, posixpath.join(folder, f"{load}.parquet"))
            for load in gone:
                fs.rm(posixpath.join(folder, f"{load}.parquet"))
            if changed:
                result.written[table] = changed
            if gone:
                result.removed[table] = gone
            manifest[table] = {"schema": schema, "loads": now}
            result.loads_in_lake[table] = len(now)
    finally:
        con.close()
    write_atomic(fs, posixpath.join(root, MANIFEST), lambda fh: fh.write(json.dumps(manifest, indent=1).encode()))
    return result


def _write_load(fs, con, table: str, load: str, path: str) -> None:
    reader = con.sql(f"select * from {table} where {LOAD_COLUMN} = ?", params=[load]).to_arrow_reader(ROW_GROUP)

    def write(fh) -> None:
        with pq.ParquetWriter(fh, reader.schema, compression="zstd") as writer:
            for batch in reader:
                writer.write_batch(batch, row_group_size=ROW_GROUP)

    write_atomic(fs, path, write)
