"""The Dash app behind `mallcrm dashboard`.

Dash (Plotly's Flask-based framework) was chosen because it is well kept on PyPI, serves
from the Python process on 127.0.0.1 with nothing fetched at run time (its JavaScript ships
in the wheel), draws every chart the managers asked for with plotly (line, bar, heat map,
Sankey) and has downloads built in. Streamlit re-runs whole scripts per interaction and
needs a websocket session per viewer; Panel would do, with a heavier stack.
"""

from __future__ import annotations

import traceback
from datetime import date
from pathlib import Path

import dash
from dash import MATCH, Input, Output, State, dcc, html

from dashboard.downloads import csv_download
from dashboard.pages import PAGES
from dashboard.queries import Filters, Warehouse

STYLE = """
body { font-family: -apple-system, 'Segoe UI', 'Noto Sans CJK SC', sans-serif; margin: 0; color: #1f2933; }
.top { background: #12355b; color: white; padding: 10px 20px; }
.top a { color: #cfe3ff; margin-right: 16px; text-decoration: none; font-size: 14px; }
.top a.active { color: white; font-weight: 600; border-bottom: 2px solid white; }
.filters { display: flex; gap: 16px; padding: 10px 20px; background: #f3f6f9; align-items: center; flex-wrap: wrap; }
.filters .filter { min-width: 220px; }
.content { padding: 10px 20px; }
.kpis { display: flex; gap: 12px; flex-wrap: wrap; margin: 10px 0; }
.kpi { background: #f3f6f9; border-radius: 6px; padding: 10px 14px; min-width: 170px; }
.kpi-label { font-size: 12px; color: #52606d; } .kpi-value { font-size: 22px; font-weight: 600; }
.table-head { display: flex; justify-content: space-between; margin-top: 12px; }
.dashboard-error { background: #fde8e8; color: #9b1c1c; padding: 12px; white-space: pre-wrap; }
.kpi-change { font-size: 12px; color: #52606d; }
.period { font-size: 12px; color: #52606d; margin-bottom: 6px; }
.filter-note { background: #fff4e5; color: #8a4b00; border-left: 3px solid #f0a030; padding: 4px 8px;
  font-size: 12px; margin: 8px 0 2px; }
.source { font-size: 12px; color: #52606d; }
"""


def _store_options(wh: Warehouse) -> list[dict]:
    rows = wh.rows("select store_id, store_name from marts.dim_store order by store_id")
    return [{"label": f"{store_id} {name}", "value": store_id} for store_id, name in rows]


def download_csv(wh: Warehouse, query: str, filters: Filters) -> dict:
    """The "Download CSV" payload of one query: its rows under the filters, formula-escaped."""
    return csv_download(wh.run(query, filters), f"{query}.csv")


def create_app(db_path: Path, source: str | None = None) -> dash.Dash:
    """The app over one DuckDB file; `source` says on the page what the file is (which
    role's output), so nobody mistakes a role's view for the whole warehouse."""
    wh = Warehouse(db_path)
    start, end = wh.bounds
    try:
        segments = wh.options("select distinct rfm_segment from marts.mart_rfm_monthly order by 1")
    except Exception:  # a role file without the RFM mart (a store's file): no segment filter values
        segments = []
    app = dash.Dash(
        __name__, title="Mall CRM dashboards", suppress_callback_exceptions=True, serve_locally=True, update_title=None
    )
    app.index_string = app.index_string.replace("{%css%}", "{%css%}<style>" + STYLE + "</style>")
    downloads = sorted({q for page in PAGES for q in page.queries})
    app.layout = html.Div(
        [
            dcc.Location(id="url"),
            html.Div(
                [html.Strong("Mall CRM 购物中心会员洞察", style={"marginRight": "24px"}), html.Span(id="nav")],
                className="top",
            ),
            html.Div(
                [
                    dcc.DatePickerRange(
                        id="filter-dates",
                        start_date=start,
                        end_date=end,
                        min_date_allowed=start,
                        max_date_allowed=end,
                        display_format="YYYY-MM-DD",
                        className="filter",
                    ),
                    dcc.Dropdown(
                        id="filter-store",
                        options=_store_options(wh),
                        placeholder="All stores 全部门店",
                        className="filter",
                    ),
                    dcc.Dropdown(
                        id="filter-segment", options=segments, placeholder="All segments 全部客群", className="filter"
                    ),
                    html.Span(
                        f"data 数据: {source or db_path.name} ({db_path.name}, read-only 只读)",
                        id="data-source",
                        className="source",
                    ),
                ],
                className="filters",
            ),
            dcc.Loading(html.Div(id="page-content", className="content"), delay_show=300),
            *[dcc.Download(id={"type": "download", "query": q}) for q in downloads],
        ]
    )

    def current_filters(start_date, end_date, store, segment) -> Filters:
        """The chosen filters; a date range that reaches the data's first or last day is
        open on that side (so "every day" is no date filter at all)."""
        first = date.fromisoformat(start_date[:10]) if start_date else None
        last = date.fromisoformat(end_date[:10]) if end_date else None
        return Filters(
            start=first if first and (start is None or first > start) else None,
            end=last if last and (end is None or last < end) else None,
            store=store or None,
            segment=segment or None,
        )

    @app.callback(
        Output("page-content", "children"),
        Output("nav", "children"),
        Input("url", "pathname"),
        Input("filter-dates", "start_date"),
        Input("filter-dates", "end_date"),
        Input("filter-store", "value"),
        Input("filter-segment", "value"),
    )
    def render(pathname, start_date, end_date, store, segment):
        page = next((p for p in PAGES if p.path == pathname), PAGES[0])
        nav = [dcc.Link(f"{p.title} {p.title_zh}", href=p.path, className="active" if p is page else "") for p in PAGES]
        try:
            body = page.render(wh, current_filters(start_date, end_date, store, segment))
        except Exception as error:  # shown on the page, never a blank screen
            traceback.print_exc()
            body = [html.Div(f"This dashboard failed: {error}", className="dashboard-error")]
        # data-filters says which filters this render shows (the browser tests wait for it)
        shown = f"{start_date}|{end_date}|{store or ''}|{segment or ''}"
        return [html.H2(f"{page.title} · {page.title_zh}", **{"data-filters": shown}), *body], nav

    @app.callback(
        Output({"type": "download", "query": MATCH}, "data"),
        Input({"type": "download-button", "query": MATCH}, "n_clicks"),
        State("filter-dates", "start_date"),
        State("filter-dates", "end_date"),
        State("filter-store", "value"),
        State("filter-segment", "value"),
        prevent_initial_call=True,
    )
    def download(n_clicks, start_date, end_date, store, segment):
        query = dash.ctx.triggered_id["query"]
        return download_csv(wh, query, current_filters(start_date, end_date, store, segment))

    return app
