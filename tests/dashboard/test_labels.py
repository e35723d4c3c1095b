"""The one label table: every column a dashboard query returns has its English and Chinese
name and its number format, and the formats read the same on cards, axes and tables."""

from __future__ import annotations

import plotly.graph_objects as go
import pytest

from dashboard.labels import COLUMNS, format_axis, format_change, format_value, label, table_column
from dashboard.queries import Warehouse, load_queries


def test_rates_amounts_and_counts_read_the_same_everywhere():
    assert format_value("roi", 0.2346) == "23.5%"
    assert format_value("net_revenue_amount", 1234567.8) == "¥1,234,568"
    assert format_value("member_count", 5000) == "5,000"
    assert format_value("nps", 25.34) == "25.3"
    assert format_value("conversion_uplift", 0.031) == "+3.1 pts"
    assert format_value("roi", None) == format_value("roi", float("nan")) == "—"
    assert format_change("breach_rate", 0.30, 0.25) == "+5.0 pts"
    assert format_change("net_revenue_amount", 110.0, 100.0) == "+10.0%"
    assert format_change("nps", 20.0, 25.5) == "-5.5"
    assert format_change("net_revenue_amount", 5.0, 0.0) == "—"


def test_axes_and_tables_take_the_label_and_format_of_the_column():
    figure = go.Figure()
    format_axis(figure, "y", "roi")
    assert figure.layout.yaxis.title.text == "ROI 投资回报率" and figure.layout.yaxis.tickformat == ",.0%"
    format_axis(figure, "x", "net_revenue_amount")
    assert figure.layout.xaxis.tickprefix == "¥" and "CNY" in figure.layout.xaxis.title.text
    column = table_column("cost_amount")
    assert column["name"] == "Cost (CNY) 成本" and column["type"] == "numeric"
    assert column["format"].to_plotly_json()["specifier"] == "$,.2f"
    assert column["format"].to_plotly_json()["locale"]["symbol"] == ["¥", ""]
    assert table_column("roi")["format"].to_plotly_json()["specifier"] == ".1%"
    assert "format" not in table_column("campaign_name")
    with pytest.raises(KeyError, match="dashboard/labels.py: column 'colour' has no row in COLUMNS"):
        label("colour")


def test_every_label_is_bilingual():
    for column, (english, chinese, _) in COLUMNS.items():
        assert english and chinese and english != chinese, column
        assert any("\u4e00" <= ch <= "\u9fff" for ch in chinese), column


@pytest.mark.integration
def test_every_column_a_query_returns_has_a_label(bi_copy):
    wh = Warehouse(bi_copy)
    missing = {f"{name}.{column}" for name in load_queries() for column in wh.run(name).columns} - {
        f"{name}.{column}" for name in load_queries() for column in COLUMNS
    }
    assert not missing, f"add to dashboard/labels.py COLUMNS: {sorted(missing)}"
