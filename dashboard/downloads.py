"""CSV downloads that a spreadsheet cannot run as formulas (CSV/formula injection).

A cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return is read by Excel,
LibreOffice and Google Sheets as a formula (`=HYPERLINK("http://x","y")` in a campaign
name becomes a live link). OWASP's rule: prefix such a cell with a single quote, which
the spreadsheet shows as text. Only text cells are escaped; numbers (-5, -0.25) stay
numbers, dates stay dates.
"""

from __future__ import annotations

import pandas as pd
from dash import dcc

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def escape_cell(value):
    """`value` with a leading single quote when it is text a spreadsheet would run."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def escape_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of `frame` whose text cells cannot start a formula (see the module docstring)."""
    out = frame.copy()
    for column in out.columns:
        series = out[column]
        if pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series):
            out[column] = series.map(escape_cell, na_action="ignore")
    out.columns = [escape_cell(c) if isinstance(c, str) else c for c in out.columns]
    return out


def csv_download(frame: pd.DataFrame, filename: str) -> dict:
    """The `dcc.Download` payload of `frame` as a formula-safe CSV file."""
    return dcc.send_data_frame(escape_formulas(frame).to_csv, filename, index=False)
