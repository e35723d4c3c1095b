"""'Download CSV' never hands a spreadsheet a formula (OWASP CSV injection rule)."""

from __future__ import annotations

import csv
import io
import shutil

import pandas as pd
import pytest

from dashboard.app import download_csv
from dashboard.downloads import escape_cell, escape_formulas
from dashboard.queries import Filters, Warehouse

HOSTILE = '=HYPERLINK("http://x","y")'


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (HOSTILE, "'" + HOSTILE),
        ("+86 138", "'+86 138"),
        ("-cmd|' /C calc'!A0", "'-cmd|' /C calc'!A0"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("-5", "'-5"),  # text that a spreadsheet would read as a formula or number: text
        ("Spring sale =50%", "Spring sale =50%"),  # only a leading character counts
        ("", ""),
        (-5, -5),  # numbers stay numbers
        (-0.25, -0.25),
        (None, None),
    ],
)
def test_escape_cell(value, expected):
    assert escape_cell(value) == expected


def test_escape_formulas_touches_text_cells_only():
    frame = pd.DataFrame(
        {
            "campaign_name": [HOSTILE, "Mid-autumn", None],
            "roi": [-5.0, 0.5, -0.1],
            "member_count": [-5, 3, 4],
            "start_date": pd.to_datetime(["2026-06-01", "2026-06-02", "2026-06-03"]),
            "=label": ["a", "b", "c"],
        }
    )
    escaped = escape_formulas(frame)
    assert escaped["campaign_name"].tolist()[:2] == ["'" + HOSTILE, "Mid-autumn"]
    assert escaped["campaign_name"].isna().tolist() == [False, False, True]
    assert escaped["roi"].tolist() == [-5.0, 0.5, -0.1] and escaped["member_count"].tolist() == [-5, 3, 4]
    assert escaped["start_date"].equals(frame["start_date"])
    assert list(escaped.columns)[-1] == "'=label"
    assert frame["campaign_name"].iloc[0] == HOSTILE  # the caller's frame is left alone


@pytest.mark.integration
def test_download_csv_escapes_a_hostile_campaign_name(tmp_path, bi_copy):
    """The app's download path, on a copy of the BI file with a campaign named like a formula."""
    copy = tmp_path / "bi.duckdb"
    shutil.copy2(bi_copy, copy)
    import duckdb

    con = duckdb.connect(str(copy))
    try:
        con.execute("update marts.mart_campaign_roi set campaign_name = ?", [HOSTILE])
    finally:
        con.close()
    payload = download_csv(Warehouse(copy), "campaign_roi", Filters())
    assert payload["filename"] == "campaign_roi.csv"
    rows = list(csv.DictReader(io.StringIO(payload["content"])))
    assert rows and {r["campaign_name"] for r in rows} == {"'" + HOSTILE}
    # numbers, negative ones too, are written as numbers
    for row in rows:
        for column in ("roi", "incremental_revenue_amount", "member_count"):
            if row[column]:
                float(row[column])
    assert not any(v.startswith(("=", "+", "@")) for r in rows for v in r.values() if v)
