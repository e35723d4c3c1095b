"""The lake: Parquet files both engines read (engine spark), and how they are written.

Two writers put tables in the lake: ingestion publishes the raw tables
(ingestion/lake.py, one file per dlt load) and scoring publishes the ML scores
(`write_table`, called by ml/pipeline.py `write_scores`), so that dbt on Spark reads
`ml_scores.*` as it reads them on DuckDB. Both go through the two helpers here, so the
lake has one file system (dlt's filesystem configuration: a folder or an object store
with its credentials) and one way to replace a file (written beside its target, renamed
into place: a reader sees the old file or the new one, never half of one).

This lives in the Spark package (below ingestion and ml) because the lake is the Spark
engine's storage; DuckDB keeps its own copy of everything in the warehouse file.
"""

from __future__ import annotations

import posixpath

import pyarrow as pa
import pyarrow.parquet as pq

from mallcrm.core.settings import Settings
from spark.catalog import register_raw_tables


def lake_filesystem(settings: Settings):
    """(fsspec file system, root path) of the lake, with dlt's credentials for object stores."""
    from dlt.common.configuration import resolve_configuration
    from dlt.common.storages import FilesystemConfiguration, fsspec_from_config

    config = resolve_configuration(
        FilesystemConfiguration(bucket_url=settings.lake_url), sections=("destination", "filesystem")
    )
    fs, root = fsspec_from_config(config)
    return fs, root


def write_atomic(fs, path: str, write) -> None:
    """Call `write(file handle)` on a temporary file beside `path`, then rename it to `path`."""
    folder, name = posixpath.split(path)
    temp = posixpath.join(folder, f".{name}.tmp")  # Spark skips files starting with "."
    fs.makedirs(folder, exist_ok=True)
    with fs.open(temp, "wb") as fh:
        write(fh)
    fs.mv(temp, path)


def table_location(settings: Settings, table: str) -> str:
    """Where the Parquet files of lake table `dataset.table` live."""
    return posixpath.join(settings.lake_url, *table.split("."))


def spark_compatible(table: pa.Table) -> pa.Table:
    """Timestamps as microsecond instants in UTC (Parquet TIMESTAMP_MICROS, adjusted to UTC).

    A naive timestamp would reach Spark as TIMESTAMP_NTZ, which Spark does not mix with
    the TIMESTAMP of the models reading it; with the cluster's session zone UTC the
    instant shows the same wall-clock value DuckDB stores. Nanoseconds Spark cannot read."""
    fields = []
    for field in table.schema:
        if pa.types.is_timestamp(field.type):
            field = field.with_type(pa.timestamp("us", tz=field.type.tz or "UTC"))
        fields.append(field)
    return table.cast(pa.schema(fields), safe=False)


def write_table(settings: Settings, table: str, data: pa.Table) -> str:
    """Replace lake table `dataset.table` with `data` (one Parquet file) and (re)create the
    cluster's external table over it; returns its location.

    The table is created again on every write: Spark fixes an external table's columns
    when it is created and caches its file listing, and a score table is small."""
    fs, root = lake_filesystem(settings)
    folder = posixpath.join(root, *table.split("."))
    data = spark_compatible(data)
    write_atomic(fs, posixpath.join(folder, "part-0.parquet"), lambda fh: pq.write_table(data, fh, compression="zstd"))
    location = table_location(settings, table)
    register_raw_tables(settings, {table: location}, changed={table})
    return location
