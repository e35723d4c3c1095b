"""Turn column arrays into export files exactly as the contract declares them.

Columns are checked against the contract (same names, written in contract order)
and typed from it, so a drift between generator and contract fails loudly here.

* CSV: pyarrow's vectorized writer - header row, comma, double quotes around text,
  empty = NULL, booleans true/false, timestamps 'YYYY-MM-DD HH:MM:SS', decimals with
  their declared scale. GBK files are re-encoded from the UTF-8 text.
* JSON lines (surveys): one object per line, columns in contract order, TIMESTAMPTZ
  as ISO 8601 UTC with 'Z'.
* Parquet (wifi_dwell): proper Arrow types (date32, timestamp[us], int32, string).
Free text must fit on one physical line: a newline in any text value is an error.
"""

from __future__ import annotations

import io
from functools import cache

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from .contract import Column, ExportFormat, decimal_spec

_CSV_OPTIONS = pacsv.WriteOptions(include_header=True, delimiter=",", quoting_style="needed")


def _mask(values: np.ndarray) -> np.ndarray | None:
    """Null mask for NaT/NaN; object arrays carry None, which Arrow reads as null."""
    if values.dtype.kind == "M":
        m = np.isnat(values)
    elif values.dtype.kind == "f":
        m = np.isnan(values)
    else:
        return None
    return m if m.any() else None


@cache
def arrow_type(col: Column, fmt: str) -> pa.DataType:
    t = col.type.upper()
    dec = decimal_spec(col)
    if dec is not None:
        return pa.decimal128(*dec)
    simple = {
        "VARCHAR": pa.string(),
        "INTEGER": pa.int32(),
        "BIGINT": pa.int64(),
        "DOUBLE": pa.float64(),
        "BOOLEAN": pa.bool_(),
        "DATE": pa.date32(),
    }
    if t in simple:
        return simple[t]
    if t == "TIMESTAMP":
        return pa.timestamp("us") if fmt == "parquet" else pa.timestamp("s")
    if t == "TIMESTAMPTZ":
        return pa.timestamp("us", tz="UTC") if fmt == "parquet" else pa.string()
    raise ValueError(f"unsupported contract type {col.type!r} for {col.name}")


def to_arrow(col: Column, values, fmt: str) -> pa.Array:
    """One column as an Arrow array of the contract type."""
    values = np.asarray(values)
    typ = arrow_type(col, fmt)
    if col.type.upper() == "TIMESTAMPTZ":
        values = values.astype("datetime64[s]")
        mask = _mask(values)
        if fmt == "parquet":
            return pa.array(values.astype("datetime64[us]"), mask=mask).cast(typ)
        # values are UTC datetime64 -> '2026-03-01T06:12:00Z'
        text = np.char.add(np.datetime_as_string(values, unit="s"), "Z").astype(object)
        return pa.array(text, type=pa.string(), mask=mask)
    if values.dtype == object or values.dtype.kind in "US":
        if pa.types.is_decimal(typ) or pa.types.is_floating(typ):
            values = np.array([np.nan if v is None else v for v in values], dtype=float)
        elif pa.types.is_timestamp(typ) or pa.types.is_date(typ):
            values = values.astype("datetime64[s]" if pa.types.is_timestamp(typ) else "datetime64[D]")
        else:
            return pa.array(values, type=typ)  # None -> null
    mask = _mask(values)
    if pa.types.is_decimal(typ):
        arr = pa.array(np.round(values.astype(float), typ.scale), mask=mask)
        return arr.cast(typ)
    if pa.types.is_timestamp(typ):
        return pa.array(values.astype(f"datetime64[{typ.unit}]"), mask=mask, type=typ)
    if pa.types.is_date(typ):
        return pa.array(values.astype("datetime64[D]"), mask=mask, type=typ)
    return pa.array(values, mask=mask).cast(typ)


def to_table(entity: ExportFormat, columns: dict[str, np.ndarray]) -> pa.Table:
    """Typed table in contract order; refuses missing or unannounced columns."""
    expected = entity.column_names
    if set(columns) != set(expected):
        missing = [c for c in expected if c not in columns]
        extra = [c for c in columns if c not in expected]
        raise KeyError(f"{entity.system}/{entity.entity}: missing {missing}, unannounced {extra}")
    arrays = [to_arrow(entity.column(name), columns[name], entity.format) for name in expected]
    return pa.Table.from_arrays(arrays, names=expected)


def csv_text(table: pa.Table) -> str:
    buf = io.BytesIO()
    pacsv.write_csv(table, buf, write_options=_CSV_OPTIONS)
    text = buf.getvalue().decode("utf-8")
    if text.count("\n") != table.num_rows + 1 or "\r" in text:
        raise ValueError("a text value contains a line break")
    return text


def jsonl_text(table: pa.Table) -> str:
    """JSON lines with nulls, integers as integers (pandas nullable types)."""
    if table.num_rows == 0:
        return ""
    frame = table.to_pandas(types_mapper={pa.int32(): pd.Int32Dtype(), pa.int64(): pd.Int64Dtype()}.get)
    text = frame.to_json(orient="records", lines=True, force_ascii=False, date_format="iso")
    if "\\n" in text or "\\r" in text:
        raise ValueError("a text value contains a line break")
    return text if text.endswith("\n") else text + "\n"


def parquet_bytes(table: pa.Table) -> bytes:
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd", write_statistics=True)
    return buf.getvalue()


def render(entity: ExportFormat, columns: dict[str, np.ndarray]) -> str | bytes:
    """The file content: text for CSV/JSONL (encode later), bytes for Parquet."""
    table = to_table(entity, columns)
    if entity.format == "csv":
        return csv_text(table)
    if entity.format == "jsonl":
        return jsonl_text(table)
    if entity.format == "parquet":
        return parquet_bytes(table)
    raise ValueError(f"unknown format {entity.format!r}")


def encoding_for(entity: ExportFormat, pos_encoding: str) -> str:
    """GBK for entities that allow it when the legacy POS runs in GBK, else UTF-8."""
    allowed = [e.lower() for e in entity.encodings]
    if pos_encoding == "gbk" and "gbk" in allowed:
        return "gbk"
    return "utf-8"


def encode(text: str, encoding: str) -> bytes:
    return text.encode(encoding)


def data_rows(content: str | bytes, fmt: str) -> int:
    if fmt == "parquet":
        return pq.read_metadata(io.BytesIO(content)).num_rows
    n = content.count("\n")
    return n - 1 if fmt == "csv" else n
