"""The dashboards: which queries each page runs and how it draws them.

Each page is a function from the warehouse and the current filters to Dash components.
Charts are plotly figures; every table a page shows can be downloaded as CSV (the app
wires the buttons, see app.py). KPI tiles carry `kpi-<name>` ids so the browser tests can
read the numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
from dash import dash_table, dcc, html

from dashboard.labels import format_axis, format_change, format_value, label, labels, table_column
from dashboard.queries import FILTER_NAMES, Filters, Query, Warehouse, ignored_filters


@dataclass(frozen=True)
class Page:
    path: str
    title: str
    title_zh: str
    queries: tuple[str, ...]  # the query files it reads (and offers as CSV)
    render: Callable[[Warehouse, Filters], list]


@dataclass(frozen=True)
class Card:
    """A KPI card: `value` of the filters, formatted as `column` (labels.py)."""

    name: str  # the tile's id is kpi-<name>
    text: str
    column: str
    value: Callable[[Filters], object]


def _source(wh: Warehouse, name: str) -> Query:
    """A query file, or a metric view named "metrics.<metric>"."""
    return wh.metric_source(name.removeprefix("metrics.")) if name.startswith("metrics.") else wh.queries[name]


def _notes(wh: Warehouse, filters: Filters, sources: tuple[str, ...]) -> list[html.Div]:
    """One visible note per active filter that some source of the block ignores."""
    ignored = ignored_filters([_source(wh, name) for name in sources], filters)
    return [
        html.Div(
            f"not filtered by {FILTER_NAMES[kind][0]} 未按{FILTER_NAMES[kind][1]}筛选: {reason}",
            className="filter-note",
            **{"data-filter": kind},
        )
        for kind, reason in ignored.items()
    ]


def _block(wh: Warehouse, filters: Filters, sources: tuple[str, ...], *children) -> html.Div:
    """A chart, table or row of cards with what it reads (`data-sources`, which the tests
    check) and a note for each active filter it ignores."""
    return html.Div(
        [*_notes(wh, filters, sources), *children], className="block", **{"data-sources": " ".join(sources)}
    )


def _kpi(name: str, text: str, value: str, change: str | None = None) -> html.Div:
    parts = [html.Div(text, className="kpi-label"), html.Div(value, id=f"kpi-{name}", className="kpi-value")]
    if change is not None:
        parts.append(html.Div(change, id=f"kpi-{name}-change", className="kpi-change"))
    return html.Div(parts, className="kpi")


def _cards(wh: Warehouse, filters: Filters, sources: tuple[str, ...], cards: list[Card]) -> html.Div:
    """KPI cards for the selected period, each with its change against the period of equal
    length just before (when the sources honour the date range and the data reach back)."""
    compares = all("date" in _source(wh, name).filters for name in sources)
    period, previous = filters.period(wh.bounds), filters.previous(wh.bounds) if compares else None
    tiles = []
    for card in cards:
        current = card.value(filters)
        change = None
        if previous:
            change = "vs previous 较上期 " + format_change(card.column, current, card.value(previous))
        tiles.append(_kpi(card.name, card.text, format_value(card.column, current), change))
    children = [html.Div(tiles, className="kpis")]
    if compares and period:
        days = (period[1] - period[0]).days + 1
        text = f"Period 期间 {period[0]:%Y-%m-%d} – {period[1]:%Y-%m-%d} ({days} days 天)"
        if previous:
            text += f", compared with 对比上期 {previous.start:%Y-%m-%d} – {previous.end:%Y-%m-%d}"
        else:
            text += ", no earlier period of equal length in the data 无上期数据 (narrow the dates to compare)"
        children.append(html.Div(text, className="period"))
    return _block(wh, filters, sources, *children)


def _graph(name: str, figure: go.Figure) -> dcc.Graph:
    figure.update_layout(margin={"l": 40, "r": 20, "t": 50, "b": 40}, height=380, template="plotly_white")
    return dcc.Graph(id=f"graph-{name}", figure=figure, className="chart", config={"displaylogo": False})


def _chart(wh: Warehouse, filters: Filters, sources: tuple[str, ...], name: str, figure: go.Figure) -> html.Div:
    return _block(wh, filters, sources, _graph(name, figure))


def _axes(figure: go.Figure, x: str | None = None, y: str | None = None, legend: str | None = None) -> go.Figure:
    """Bilingual axis and legend titles and number formats from the label table."""
    if x:
        format_axis(figure, "x", x)
    if y:
        format_axis(figure, "y", y)
    if legend:
        figure.update_layout(legend_title_text=label(legend))
    return figure


def _long(frame: pd.DataFrame, keys: list[str], columns: list[str], name: str, value: str) -> pd.DataFrame:
    """Wide to long with the measures named from the label table (legend entries), never
    plotly's `variable` / `value`."""
    out = frame.melt(id_vars=keys, value_vars=columns, var_name=name, value_name=value)
    out[name] = out[name].map(label)
    return out


def _display(frame: pd.DataFrame) -> pd.DataFrame:
    """Dates as ISO days (numbers are formatted by the table's column formats)."""
    shown = frame.copy()
    for column in shown.columns:
        if pd.api.types.is_datetime64_any_dtype(shown[column]):
            shown[column] = shown[column].dt.strftime("%Y-%m-%d")
        elif pd.api.types.is_bool_dtype(shown[column]):
            shown[column] = shown[column].map({True: "yes 是", False: "no 否"})
    return shown


def _table(wh: Warehouse, filters: Filters, query: str, frame: pd.DataFrame, rows: int = 12) -> html.Div:
    shown = _display(frame.head(200))
    return _block(
        wh,
        filters,
        (query,),
        html.Div(
            [
                html.Span(f"{query} ({len(frame):,} rows 行)", className="table-title"),
                html.Button("Download CSV", id={"type": "download-button", "query": query}, className="download"),
            ],
            className="table-head",
        ),
        dash_table.DataTable(
            id=f"table-{query}",
            data=shown.astype(object).where(shown.notna(), None).to_dict("records"),
            columns=[table_column(c) for c in shown.columns],
            page_size=rows,
            style_table={"overflowX": "auto"},
            style_cell={"fontFamily": "inherit", "fontSize": 12, "padding": "4px"},
        ),
    )


def _empty(message: str) -> html.Div:
    return html.Div(message, className="empty-note")


def _latest(frame: pd.DataFrame, column: str, by: str = "snapshot_month"):
    """`column` of the latest row (by `by`), None when there is none."""
    return None if frame.empty else frame.sort_values(by).iloc[-1][column]


# the lifecycle stages in funnel order (int_member__lifecycle_snapshots), with their names
STAGES = {
    "potential": "potential 潜在",
    "new": "new 新客",
    "active": "active 活跃",
    "reactivated": "reactivated 回流",
    "declining": "declining 衰退",
    "dormant": "dormant 沉睡",
    "churned": "churned 流失",
}


def lifecycle(wh: Warehouse, filters: Filters) -> list:
    run = cache(wh.run)
    kpis = run("lifecycle_kpis", filters)
    stages = run("lifecycle_stages", filters)
    scores = run("member_scores_by_stage", filters)
    if kpis.empty:
        return [_empty("No lifecycle snapshots in the selected dates.")]

    def latest_stages(f: Filters) -> pd.DataFrame:
        frame = run("lifecycle_stages", f)
        return frame[frame.snapshot_month == frame.snapshot_month.max()]

    def rate(column: str) -> Callable[[Filters], object]:
        return lambda f: _latest(run("lifecycle_kpis", f), column)

    latest_month = stages.snapshot_month.max()
    latest = latest_stages(filters)
    rates = _long(
        kpis,
        ["snapshot_month"],
        ["new_customer_conversion_rate", "dormant_reactivation_rate", "high_value_retention_rate"],
        "kpi",
        "rate",
    )
    ordered = latest.set_index("lifecycle_stage").reindex(list(STAGES)).fillna(0).reset_index()
    funnel = go.Figure(
        go.Funnel(
            y=[STAGES[s] for s in ordered.lifecycle_stage],
            x=ordered.member_count,
            textinfo="value+percent total",
            texttemplate="%{value:,} (%{percentTotal:.1%})",
        )
    )
    funnel.update_layout(title=f"Lifecycle funnel 生命周期漏斗 ({latest_month:%Y-%m}): members per stage, all stages")
    funnel.update_yaxes(title_text=label("lifecycle_stage"))
    area = px.area(
        stages.assign(lifecycle_stage=stages.lifecycle_stage.map(STAGES)),
        x="snapshot_month",
        y="member_count",
        color="lifecycle_stage",
        category_orders={"lifecycle_stage": list(STAGES.values())},
        labels=labels("snapshot_month", "member_count", "lifecycle_stage"),
        title="Members by lifecycle stage 各阶段会员",
    )
    by_stage = scores.groupby("lifecycle_stage", as_index=False)[
        ["member_count", "scored_member_count", "churn_probability_total", "predicted_clv_amount"]
    ].sum()
    by_stage["avg_churn_probability"] = by_stage.churn_probability_total / by_stage.scored_member_count.where(
        by_stage.scored_member_count > 0
    )
    by_stage["lifecycle_stage"] = by_stage.lifecycle_stage.map(STAGES)
    churn = px.bar(
        by_stage,
        x="lifecycle_stage",
        y="avg_churn_probability",
        hover_data={"scored_member_count": ":,", "predicted_clv_amount": ":,.0f"},
        category_orders={"lifecycle_stage": list(STAGES.values())},
        labels=labels("lifecycle_stage", "avg_churn_probability", "scored_member_count", "predicted_clv_amount"),
        title="Mean churn probability by stage 各阶段平均流失概率 (ML scores; empty until scored)",
    )
    lines = px.line(
        rates,
        x="snapshot_month",
        y="rate",
        color="kpi",
        markers=True,
        labels=labels("snapshot_month", "rate", "kpi"),
        title="Lifecycle KPIs by month 生命周期指标",
    )
    return [
        _cards(
            wh,
            filters,
            ("lifecycle_kpis", "lifecycle_stages"),
            [
                Card(
                    "new-conversion", "New-customer conversion 新客转化", "rate", rate("new_customer_conversion_rate")
                ),
                Card(
                    "dormant-reactivation", "Dormant reactivation 沉睡唤醒", "rate", rate("dormant_reactivation_rate")
                ),
                Card(
                    "high-value-retention", "High-value retention 高价值留存", "rate", rate("high_value_retention_rate")
                ),
                Card(
                    "members",
                    "Members in stages 会员数",
                    "member_count",
                    lambda f: latest_stages(f).member_count.sum(),
                ),
                Card(
                    "reactivated",
                    "Reactivated 回流会员",
                    "member_count",
                    lambda f: latest_stages(f).query("lifecycle_stage == 'reactivated'").member_count.sum(),
                ),
            ],
        ),
        _chart(wh, filters, ("lifecycle_stages",), "lifecycle-funnel", funnel),
        _chart(wh, filters, ("lifecycle_kpis",), "lifecycle-rates", _axes(lines, "snapshot_month", "rate", "kpi")),
        _chart(
            wh,
            filters,
            ("lifecycle_stages",),
            "lifecycle-stages",
            _axes(area, "snapshot_month", "member_count", "lifecycle_stage"),
        ),
        _chart(
            wh,
            filters,
            ("member_scores_by_stage",),
            "lifecycle-churn",
            _axes(churn, "lifecycle_stage", "avg_churn_probability"),
        ),
        _table(wh, filters, "lifecycle_kpis", kpis),
    ]


FP_GROWTH = "FP-Growth"  # rule_source of the ML rules (basket_rules.sql); else the SQL pair counts


def _rule_label(items: pd.Series) -> pd.Series:
    """Rule side "a,b" -> "a + b": several items as one node or bar label."""
    return items.astype(str).str.replace(",", " + ", regex=False)


def basket(wh: Warehouse, filters: Filters) -> list:
    rules = wh.run("basket_rules", filters)
    if rules.empty:
        return [_empty("No association rules yet: run `mallcrm ml train` and `mallcrm ml score`.")]
    fp_growth = bool((rules.rule_source == FP_GROWTH).any())
    category = rules[rules.rule_level == "category"]
    products = rules[rules.rule_level == "sku"]
    # one link per category pair, in its stronger direction (lift is symmetric)
    pairs = category.assign(pair=[frozenset(p) for p in zip(category.antecedent, category.consequent, strict=True)])
    top = pairs.sort_values("confidence", ascending=False, kind="stable").drop_duplicates("pair")
    top = top.sort_values(["lift", "rule_basket_count"], ascending=False, kind="stable").head(25)
    sources, targets = _rule_label(top.antecedent_label), _rule_label(top.consequent_label)
    nodes = sorted(set(sources) | set(targets))
    # antecedents on the left, consequents on the right: one node per side
    left = {c: i for i, c in enumerate(nodes)}
    right = {c: i + len(nodes) for i, c in enumerate(nodes)}
    sankey = go.Figure(
        go.Sankey(
            node={"label": nodes + nodes, "pad": 12},
            link={
                "source": [left[c] for c in sources],
                "target": [right[c] for c in targets],
                "value": list(top.rule_basket_count),
                "customdata": top[["support", "confidence", "lift"]].to_numpy().tolist(),
                "hovertemplate": "%{source.label} → %{target.label}<br>baskets 购物篮 %{value:,}"
                "<br>support 支持度 %{customdata[0]:.2%}<br>confidence 置信度 %{customdata[1]:.1%}"
                "<br>lift 提升度 %{customdata[2]:.2f}<extra></extra>",
            },
        )
    )
    how = "FP-Growth" if fp_growth else "SQL pair counts, until the first ML run"
    sankey.update_layout(title=f"Cross-category rules 跨品类关联 (top 25 pairs by lift, {how}): bought → also bought")
    model = f"{FP_GROWTH} {rules.model_version.dropna().iloc[0]}" if fp_growth else "SQL pairs"
    components = [
        _cards(
            wh,
            filters,
            ("basket_rules",),
            [
                Card("rules", "Rules 关联规则", "rule_rank", lambda f: len(rules)),
                Card("max-lift", "Highest lift 最高提升度", "lift", lambda f: rules.lift.max()),
                Card(
                    "baskets",
                    "Baskets mined 购物篮数",
                    "total_basket_count",
                    lambda f: category.total_basket_count.max(),
                ),
                Card("model", "Rules from 规则来源", "rule_source", lambda f: model),
            ],
        ),
        _chart(wh, filters, ("basket_rules",), "basket-sankey", sankey),
    ]
    if not products.empty:
        shown = products.sort_values(["lift", "rule_basket_count"], ascending=False, kind="stable").head(15)
        rule = _rule_label(shown.antecedent_label) + " → " + _rule_label(shown.consequent_label)
        # product names repeat across SKUs: a bar per rule, so repeated labels show the SKUs
        repeated = rule.duplicated(keep=False)
        rule = rule.where(~repeated, rule + " [" + shown.antecedent + " → " + shown.consequent + "]")
        shown = shown.assign(rule=rule).iloc[::-1]
        bars = px.bar(
            shown,
            x="lift",
            y="rule",
            orientation="h",
            hover_data={"support": ":.2%", "confidence": ":.1%", "rule_basket_count": ":,"},
            labels=labels("lift", "rule", "support", "confidence", "rule_basket_count"),
            title="Product rules 商品关联规则 (same receipt, top 15 by lift): bought → also bought",
        )
        _axes(bars, "lift", "rule")
        components.append(_chart(wh, filters, ("basket_rules",), "basket-products", bars))
    components.append(_table(wh, filters, "basket_rules", rules))
    return components


def traffic(wh: Warehouse, filters: Filters) -> list:
    run = cache(wh.run)
    heat = run("traffic_heatmap", filters)
    dwell = run("zone_dwell", filters)
    conversion = run("traffic_conversion", filters)
    transitions = run("zone_transitions", filters)
    if heat.empty:
        return [_empty("No people-counter data yet.")]
    days = heat.business_date.nunique()
    grid = heat.pivot_table(index="zone_name", columns="hour_of_day", values="people_in", aggfunc="sum") / days
    heatmap = go.Figure(
        go.Heatmap(
            z=grid.values,
            x=list(grid.columns),
            y=list(grid.index),
            colorscale="YlOrRd",
            colorbar={"title": label("avg_people_in_per_day")},
            hovertemplate="%{y} %{x}:00<br>" + label("avg_people_in_per_day") + " %{z:,.1f}<extra></extra>",
        )
    )
    heatmap.update_layout(title=f"People entering per day, zone x hour 各区域分时客流 (mean of {days:,} days)")
    _axes(heatmap, "hour_of_day", "zone_name")
    per_zone = dwell.groupby("zone_name", as_index=False).agg(
        dwell_minutes=("dwell_minutes", "sum"), visit_count=("visit_count", "sum")
    )
    per_zone["avg_dwell_minutes_per_visit"] = per_zone.dwell_minutes / per_zone.visit_count.where(
        per_zone.visit_count > 0
    )
    per_type = dwell.groupby("zone_type", as_index=False).agg(
        dwell_minutes=("dwell_minutes", "sum"), visit_count=("visit_count", "sum")
    )
    per_type["avg_dwell_minutes_per_visit"] = per_type.dwell_minutes / per_type.visit_count.where(
        per_type.visit_count > 0
    )
    daily = conversion.groupby("business_date", as_index=False).agg(
        visitor_count=("visitor_count", "sum"), transaction_count=("transaction_count", "sum")
    )
    daily["transactions_per_visitor"] = daily.transaction_count / daily.visitor_count.where(daily.visitor_count > 0)

    def receipts_per_visitor(f: Filters):
        frame = run("traffic_conversion", f)
        visitors = frame.visitor_count.sum()
        return frame.transaction_count.sum() / visitors if visitors else None

    dwell_bars = px.bar(
        per_zone,
        x="zone_name",
        y="avg_dwell_minutes_per_visit",
        hover_data={"visit_count": ":,"},
        labels=labels("zone_name", "avg_dwell_minutes_per_visit", "visit_count"),
        title="Average dwell per visit by zone 各区域单次驻留(分钟)",
    )
    type_bars = px.bar(
        per_type.sort_values("avg_dwell_minutes_per_visit"),
        x="zone_type",
        y="avg_dwell_minutes_per_visit",
        hover_data={"visit_count": ":,"},
        labels=labels("zone_type", "avg_dwell_minutes_per_visit", "visit_count"),
        title="Average dwell per visit by zone type 各类型区域单次驻留(分钟)",
    )
    paths = transitions.groupby(["from_zone_name", "to_zone_name"], as_index=False).agg(
        transition_count=("transition_count", "sum")
    )
    paths["path"] = paths.from_zone_name + " → " + paths.to_zone_name
    path_bars = px.bar(
        paths.nlargest(15, "transition_count").sort_values("transition_count"),
        x="transition_count",
        y="path",
        orientation="h",
        labels=labels("transition_count", "path"),
        title="Top shopper paths between zones 主要客流动线 (Wi-Fi, moves in the selected days)",
    )
    receipts = px.line(
        daily,
        x="business_date",
        y="transactions_per_visitor",
        hover_data={"visitor_count": ":,", "transaction_count": ":,"},
        labels=labels("business_date", "transactions_per_visitor", "visitor_count", "transaction_count"),
        title="Receipts per store visitor by day 每日进店转化率",
    )
    return [
        _cards(
            wh,
            filters,
            ("metrics.visitors", "metrics.net_revenue"),
            [
                Card("mall-visitors", "Mall visitors 商场客流", "visitor_count", lambda f: wh.metric("visitors", f)),
                Card(
                    "net-revenue", "Net revenue 净销售额", "net_revenue_amount", lambda f: wh.metric("net_revenue", f)
                ),
            ],
        ),
        _cards(
            wh,
            filters,
            ("traffic_conversion",),
            [
                Card(
                    "visitors",
                    "Store visitors 进店客流",
                    "visitor_count",
                    lambda f: run("traffic_conversion", f).visitor_count.sum(),
                ),
                Card(
                    "transactions",
                    "Receipts 成交笔数",
                    "transaction_count",
                    lambda f: run("traffic_conversion", f).transaction_count.sum(),
                ),
                Card("conversion", "Conversion 转化率", "transactions_per_visitor", receipts_per_visitor),
            ],
        ),
        _chart(wh, filters, ("traffic_heatmap",), "traffic-heatmap", heatmap),
        _chart(
            wh, filters, ("zone_dwell",), "traffic-dwell", _axes(dwell_bars, "zone_name", "avg_dwell_minutes_per_visit")
        ),
        _chart(
            wh,
            filters,
            ("zone_dwell",),
            "traffic-dwell-type",
            _axes(type_bars, "zone_type", "avg_dwell_minutes_per_visit"),
        ),
        _chart(wh, filters, ("zone_transitions",), "traffic-paths", _axes(path_bars, "transition_count", "path")),
        _chart(
            wh,
            filters,
            ("traffic_conversion",),
            "traffic-conversion",
            _axes(receipts, "business_date", "transactions_per_visitor"),
        ),
        _table(wh, filters, "traffic_conversion", conversion),
    ]


def campaigns(wh: Warehouse, filters: Filters) -> list:
    run = cache(wh.run)
    roi = run("campaign_roi", filters)
    if roi.empty:
        return [_empty("No campaigns started in the selected dates.")]
    # every treatment arm against the control (a multi-arm test has several: treatment_a, _b, ...)
    treatment = roi[roi.arm != "control"].copy()
    multi_arm = treatment.arm != "treatment"
    treatment.loc[multi_arm, "campaign_name"] = treatment.campaign_name + " · " + treatment.arm
    treatment["significant"] = treatment.is_revenue_significant.fillna(False).map({True: "p < 0.05", False: "n.s."})
    roi_bars = px.bar(
        treatment,
        x="campaign_name",
        y="roi",
        color="significant",
        hover_data={"revenue_p_value": ":.3f", "cost_amount": ":,.0f"},
        labels=labels("campaign_name", "roi", "significant", "revenue_p_value", "cost_amount"),
        title="ROI per campaign 各活动投资回报率 (treatment over control)",
    )
    amounts = px.bar(
        _long(
            treatment,
            ["campaign_name"],
            ["incremental_revenue_amount", "incremental_margin_amount"],
            "measure",
            "amount",
        ),
        x="campaign_name",
        y="amount",
        color="measure",
        barmode="group",
        labels=labels("campaign_name", "amount", "measure"),
        title="Incremental revenue and margin 增量收入与毛利 (CNY)",
    )
    metric_cards = ("metrics.campaign_incremental_revenue", "metrics.campaign_cost", "metrics.campaign_roi")
    return [
        _cards(
            wh,
            filters,
            ("campaign_roi", *metric_cards),
            [
                Card(
                    "campaigns",
                    "Campaigns 活动数",
                    "member_count",
                    lambda f: run("campaign_roi", f).campaign_id.nunique(),
                ),
                Card(
                    "incremental-revenue",
                    "Incremental revenue 增量收入",
                    "incremental_revenue_amount",
                    lambda f: wh.metric("campaign_incremental_revenue", f),
                ),
                Card("cost", "Cost 成本", "cost_amount", lambda f: wh.metric("campaign_cost", f)),
                Card("roi", "ROI 投资回报率", "roi", lambda f: wh.metric("campaign_roi", f)),
            ],
        ),
        _chart(wh, filters, ("campaign_roi",), "campaign-roi", _axes(roi_bars, "campaign_name", "roi", "significant")),
        _chart(
            wh,
            filters,
            ("campaign_roi",),
            "campaign-incremental",
            _axes(amounts, "campaign_name", "amount", "measure"),
        ),
        _table(wh, filters, "campaign_roi", roi),
        _qini_chart(wh, filters, run("uplift_qini", filters)),
    ]


def _qini_chart(wh: Warehouse, filters: Filters, qini: pd.DataFrame) -> html.Div:
    """The uplift model's holdout Qini curve against random targeting and the churn heuristic."""
    if qini.empty:
        return _block(
            wh,
            filters,
            ("uplift_qini",),
            _empty(
                "No promoted uplift model yet 尚无增量响应模型: it is promoted only when it beats "
                "random targeting and the churn heuristic on the holdout campaigns."
            ),
        )
    model = qini[qini.ranking == "uplift_model"].iloc[0]
    heuristic = qini[qini.ranking == "churn_heuristic"].qini_coefficient
    figure = px.line(
        qini,
        x="targeted_share",
        y="incremental_conversions",
        color="ranking_label",
        labels=labels("targeted_share", "incremental_conversions", "ranking_label"),
        title=(
            f"Uplift targeting, Qini 增量响应Qini: model {model.qini_coefficient:.1f} vs churn heuristic "
            f"{heuristic.iloc[0]:.1f}, random p95 {model.random_qini_p95:.1f} "
            f"({int(model.holdout_campaign_count)} test campaigns from {model.split_date:%Y-%m-%d})"
        ),
    )
    axes = _axes(figure, "targeted_share", "incremental_conversions", "ranking_label")
    return _chart(wh, filters, ("uplift_qini",), "uplift-qini", axes)


# the gates of docs/activation.md in their order: mart_audience_runs column -> label
AUDIENCE_GATES = {
    "excluded_consent_count": "no consent 未同意",
    "excluded_minor_count": "minor 未成年",
    "excluded_erased_count": "erased 已删除",
    "excluded_open_complaint_count": "open complaint 未结投诉",
    "excluded_frequency_cap_count": "members capped 频次上限",
}
NO_AUDIENCE = (
    "No audience has been exported yet 尚未导出营销人群: run `mallcrm audiences build` and "
    "`mallcrm audiences export` (`make demo` does both), then `mallcrm publish-roles`."
)


def _overlap_heatmap(overlaps: pd.DataFrame, audiences: list[str], run_date) -> go.Figure:
    """A symmetric audience x audience matrix of the Jaccard index, shared members as text."""
    index = {a: i for i, a in enumerate(audiences)}
    jaccard = [[None] * len(audiences) for _ in audiences]
    shared = [[""] * len(audiences) for _ in audiences]
    for row in overlaps.itertuples():
        i, j = index[row.audience], index[row.other_audience]
        jaccard[i][j] = jaccard[j][i] = row.jaccard_index
        shared[i][j] = shared[j][i] = f"{row.shared_member_count:,}"
    figure = go.Figure(
        go.Heatmap(
            z=jaccard,
            x=audiences,
            y=audiences,
            text=shared,
            texttemplate="%{text}",
            colorscale="Blues",
            colorbar={"title": "Jaccard"},
            hovertemplate="%{y} ∩ %{x}<br>shared members %{text}<br>Jaccard %{z:.3f}<extra></extra>",
        )
    )
    figure.update_layout(title=f"Audience overlaps on {run_date:%Y-%m-%d}: shared members (colour: Jaccard index)")
    return figure


def _uplift_chart(measured: pd.DataFrame) -> go.Figure:
    """Conversion uplift (treatment - control) per measured run with its 95% interval."""
    repeated = measured.audience.duplicated().any()  # an audience measured on several run dates
    label = measured.audience + (" " + measured.run_date.dt.strftime("%Y-%m-%d") if repeated else "")
    significant = measured.is_conversion_significant.fillna(False).astype(bool)
    figure = go.Figure()
    for flag, name, color in ((True, "p < 0.05", "#1a7f37"), (False, "n.s.", "#7b8794")):
        rows = measured[significant == flag]
        if rows.empty:
            continue
        figure.add_trace(
            go.Scatter(
                x=label[significant == flag],
                y=rows.conversion_uplift,
                mode="markers",
                name=name,
                showlegend=True,
                marker={"size": 11, "color": color, "symbol": "diamond" if flag else "circle"},
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": rows.conversion_uplift_ci_high - rows.conversion_uplift,
                    "arrayminus": rows.conversion_uplift - rows.conversion_uplift_ci_low,
                },
                customdata=rows[["conversion_uplift_ci_low", "conversion_uplift_ci_high", "conversion_p_value"]],
                hovertemplate="%{x}<br>uplift %{y:.1%}<br>95% interval %{customdata[0]:.1%} to %{customdata[1]:.1%}"
                "<br>p = %{customdata[2]:.3f}<extra></extra>",
            )
        )
    figure.add_hline(y=0, line_dash="dot", line_color="#52606d")
    figure.update_layout(
        title="Conversion uplift of past activations (treatment − control), 95% interval",
        yaxis_tickformat=".0%",
        yaxis_title="conversion uplift 转化提升",
        legend_title="significance",
    )
    return figure


def audiences(wh: Warehouse, filters: Filters) -> list:
    run = cache(wh.run)
    runs = run("audience_runs", filters)
    if runs.empty:
        if run("audience_runs").empty:
            return [_empty(NO_AUDIENCE)]
        return [_empty("No audience runs in the selected dates.")]
    overlaps = run("audience_overlaps", filters)
    coverage = run("channel_consent_coverage", filters)
    latest_date = runs.run_date.max()
    runs = runs.assign(
        members=runs.treatment_count + runs.control_count,
        run_day=runs.run_date.dt.strftime("%Y-%m-%d"),
    )
    excluded = runs.groupby("audience", as_index=False)[list(AUDIENCE_GATES)].sum()
    excluded = excluded.rename(columns=AUDIENCE_GATES).melt(id_vars="audience", var_name="gate", value_name="members")
    measured = runs[runs.is_measured.fillna(False).astype(bool)]
    sizes = px.bar(
        runs,
        x="run_day",
        y="members",
        color="audience",
        barmode="group",
        hover_data=["audience_label", "treatment_count", "control_count", "candidate_count", "status"],
        labels=labels(
            "run_day",
            "members",
            "audience",
            "audience_label",
            "treatment_count",
            "control_count",
            "candidate_count",
            "status",
        ),
        title="Audience size per run (treatment 实验组 + control 对照组)",
    )
    _axes(sizes, "run_day", "members", "audience").update_layout(xaxis_type="category")
    gates = px.bar(
        excluded,
        x="audience",
        y="members",
        color="gate",
        category_orders={"gate": list(AUDIENCE_GATES.values())},
        labels=labels("audience", "gate", "members"),
        title="Members excluded per gate 各门禁排除会员 (selected run dates)",
    )
    _axes(gates, "audience", "members", "gate").update_layout(barmode="stack")

    def measured_runs(f: Filters) -> pd.DataFrame:
        frame = run("audience_runs", f)
        return frame[frame.is_measured.fillna(False).astype(bool)]

    components = [
        _cards(
            wh,
            filters,
            ("audience_runs",),
            [
                Card(
                    "audience-runs", "Audience runs 人群批次", "candidate_count", lambda f: len(run("audience_runs", f))
                ),
                Card(
                    "contacted",
                    "Members contacted 触达会员",
                    "treatment_count",
                    lambda f: run("audience_runs", f).treatment_count.sum(),
                ),
                Card(
                    "held-out",
                    "Held out 对照组",
                    "control_count",
                    lambda f: run("audience_runs", f).control_count.sum(),
                ),
                Card(
                    "excluded",
                    "Excluded by gates 门禁排除",
                    "candidate_count",
                    lambda f: run("audience_runs", f)[list(AUDIENCE_GATES)].to_numpy().sum(),
                ),
                Card(
                    "significant",
                    "Significant uplifts 显著提升",
                    "status",
                    lambda f: (
                        f"{int(measured_runs(f).is_conversion_significant.fillna(False).sum())}"
                        f" / {len(measured_runs(f))} measured"
                    ),
                ),
            ],
        ),
        _chart(wh, filters, ("audience_runs",), "audience-sizes", sizes),
    ]
    latest_overlaps = overlaps[overlaps.run_date == overlaps.run_date.max()] if not overlaps.empty else overlaps
    if not latest_overlaps.empty:
        overlap_date = latest_overlaps.run_date.iloc[0]
        names = set(latest_overlaps.audience) | set(latest_overlaps.other_audience)
        names |= set(runs[runs.run_date == overlap_date].audience)
        heat = _overlap_heatmap(latest_overlaps, sorted(names), overlap_date)
        components.append(_chart(wh, filters, ("audience_overlaps",), "audience-overlaps", heat))
    else:
        components.append(html.P(f"No two audiences shared a member on {latest_date:%Y-%m-%d}.", className="note"))
    if not coverage.empty:
        coverage_date = coverage.run_date.max()
        latest_coverage = coverage[coverage.run_date == coverage_date].sort_values("consent_coverage_rate")
        consent = px.bar(
            latest_coverage,
            x="channel",
            y="consent_coverage_rate",
            text_auto=".0%",
            hover_data=["consent_scopes", "consenting_member_count", "active_adult_member_count"],
            labels=labels(
                "channel",
                "consent_coverage_rate",
                "consent_scopes",
                "consenting_member_count",
                "active_adult_member_count",
            ),
            title=f"Consent coverage per channel 渠道同意覆盖率 ({coverage_date:%Y-%m-%d}, active adult members)",
        )
        _axes(consent, "channel", "consent_coverage_rate").update_layout(yaxis_range=[0, 1])
        components.append(_chart(wh, filters, ("channel_consent_coverage",), "consent-coverage", consent))
    components.append(_chart(wh, filters, ("audience_runs",), "audience-exclusions", gates))
    if not measured.empty:
        components.append(_chart(wh, filters, ("audience_runs",), "audience-uplift", _uplift_chart(measured)))
    else:
        components.append(
            html.P(
                "No activation measured yet: the uplift shows once the marketing system reports a campaign back.",
                className="note",
            )
        )
    components.append(_table(wh, filters, "audience_runs", runs.drop(columns=["members", "run_day"])))
    return components


def rfm(wh: Warehouse, filters: Filters) -> list:
    run = cache(wh.run)
    segments = run("rfm_segments", filters)
    migration = run("rfm_migration", filters)
    behaviour = run("behaviour_segments", filters)
    if segments.empty:
        return [_empty("No RFM snapshots in the selected dates.")]

    def latest_scored(f: Filters) -> pd.DataFrame:
        frame = run("rfm_segments", f)
        return frame[frame.snapshot_month == frame.snapshot_month.max()]

    latest_month = segments.snapshot_month.max()
    latest = latest_scored(filters)
    by_segment = latest.groupby("rfm_segment", as_index=False).member_count.sum().sort_values("member_count")
    by_class = latest.groupby("rfm_class_label", as_index=False).member_count.sum()
    moves = migration[migration.snapshot_month == migration.snapshot_month.max()] if not migration.empty else migration
    matrix = moves.pivot_table(index="from_segment", columns="to_segment", values="member_count", aggfunc="sum")
    migration_fig = go.Figure(
        go.Heatmap(
            z=matrix.values,
            x=list(matrix.columns),
            y=list(matrix.index),
            colorscale="Blues",
            colorbar={"title": label("member_count")},
            hovertemplate="%{y} → %{x}<br>" + label("member_count") + " %{z:,}<extra></extra>",
        )
    )
    migration_fig.update_layout(title="Segment migration, latest month 客群迁移 (from → to)")
    _axes(migration_fig, "to_segment", "from_segment")
    groups = behaviour.groupby("behaviour_segment", as_index=False)[
        ["member_count", "scored_member_count", "churn_probability_total", "predicted_clv_total"]
    ].sum()
    scored = groups.scored_member_count.where(groups.scored_member_count > 0)
    groups["avg_churn_probability"] = groups.churn_probability_total / scored
    groups["avg_predicted_clv"] = groups.predicted_clv_total / scored
    segment_bars = px.bar(
        by_segment,
        x="member_count",
        y="rfm_segment",
        orientation="h",
        labels=labels("member_count", "rfm_segment"),
        title=f"Members per RFM segment 各RFM客群会员 ({latest_month:%Y-%m})",
    )
    behaviour_bars = px.bar(
        groups.sort_values("member_count", ascending=False),
        x="behaviour_segment",
        y="member_count",
        hover_data={"avg_churn_probability": ":.1%", "avg_predicted_clv": ":,.0f"},
        labels=labels("behaviour_segment", "member_count", "avg_churn_probability", "avg_predicted_clv"),
        title="Behavioural segments 行为客群 (K-means model)",
    )
    classes = px.pie(
        by_class,
        names="rfm_class_label",
        values="member_count",
        labels=labels("rfm_class_label", "member_count"),
        title="8-class customer value RFM八类",
    )
    classes.update_layout(legend_title_text=label("rfm_class_label"))
    return [
        _cards(
            wh,
            filters,
            ("rfm_segments",),
            [
                Card(
                    "rfm-members",
                    "Members scored 已评分会员",
                    "member_count",
                    lambda f: latest_scored(f).member_count.sum(),
                ),
                Card(
                    "rfm-segments",
                    "Segments 客群数",
                    "member_count",
                    lambda f: latest_scored(f).rfm_segment.nunique(),
                ),
            ],
        ),
        _chart(wh, filters, ("rfm_segments",), "rfm-segments", _axes(segment_bars, "member_count", "rfm_segment")),
        _chart(wh, filters, ("rfm_segments",), "rfm-classes", classes),
        _chart(wh, filters, ("rfm_migration",), "rfm-migration", migration_fig),
        _chart(
            wh,
            filters,
            ("behaviour_segments",),
            "behaviour-segments",
            _axes(behaviour_bars, "behaviour_segment", "member_count"),
        ),
        _table(wh, filters, "rfm_segments", segments),
    ]


def loyalty(wh: Warehouse, filters: Filters) -> list:
    run = cache(wh.run)
    tiers = run("loyalty_tiers", filters)
    points = run("points_liability", filters)
    if tiers.empty:
        return [_empty("No tier snapshots in the selected dates.")]
    sources = run("points_earn_sources", filters)
    economics = run("points_economics", filters)
    qualification = run("tier_qualification", filters)
    vip = run("vip_programme", filters)
    families = run("family_points", filters)
    tier_bars = px.bar(
        tiers,
        x="snapshot_month",
        y="member_count",
        color="tier",
        hover_data={"member_share": ":.1%", "upgrades_in": ":,", "downgrades_in": ":,"},
        labels=labels("snapshot_month", "member_count", "tier", "member_share", "upgrades_in", "downgrades_in"),
        title="Members per tier by month 各等级会员",
    )
    flows = px.bar(
        _long(points, ["snapshot_month"], ["points_earned", "points_redeemed", "points_expired"], "measure", "points"),
        x="snapshot_month",
        y="points",
        color="measure",
        barmode="group",
        labels=labels("snapshot_month", "points", "measure"),
        title="Points earned, redeemed and expired 积分获得、兑换与过期",
    )
    by_source = px.bar(
        sources,
        x="snapshot_month",
        y="points_earned",
        color="earn_source",
        hover_data={"bonus_points": ":,", "points_share": ":.1%", "earning_member_count": ":,"},
        labels=labels("snapshot_month", "points_earned", "earn_source", "bonus_points", "points_share"),
        title="Points by earn source, festival bonus included 积分来源",
    )
    liability = px.line(
        _long(economics, ["snapshot_month"], ["face_value_amount", "liability_amount"], "measure", "points_value"),
        x="snapshot_month",
        y="points_value",
        color="measure",
        markers=True,
        labels=labels("snapshot_month", "measure") | {"points_value": label("liability_amount")},
        title="Points liability before and after expected breakage 积分负债",
    )
    rates = px.line(
        _long(
            economics,
            ["snapshot_month"],
            ["redemption_rate", "points_plus_cash_share", "expected_breakage_rate"],
            "measure",
            "rate",
        ),
        x="snapshot_month",
        y="rate",
        color="measure",
        markers=True,
        labels=labels("snapshot_month", "rate", "measure"),
        title="Redemption, points-plus-cash use and breakage 兑换率、积分+现金与过期率",
    )
    near = px.bar(
        _long(qualification, ["tier"], ["near_upgrade_count", "downgrade_risk_count"], "measure", "members"),
        x="tier",
        y="members",
        color="measure",
        barmode="group",
        labels=labels("tier", "members", "measure"),
        title="Members near an upgrade or at risk of a downgrade 会员升降级",
    )
    targets = px.line(
        _long(
            vip,
            ["snapshot_month"],
            [
                "vip_count_growth",
                "vip_count_growth_target",
                "vip_repurchase_growth",
                "vip_repurchase_growth_target",
                "vip_satisfaction_rate",
                "vip_satisfaction_target",
            ],
            "measure",
            "rate",
        ),
        x="snapshot_month",
        y="rate",
        color="measure",
        markers=True,
        labels=labels("snapshot_month", "rate", "measure"),
        title="VIP programme against its targets VIP计划目标",
    )
    payback = px.bar(
        _long(vip, ["snapshot_month"], ["programme_cost_amount", "incremental_vip_revenue_amount"], "measure", "cny"),
        x="snapshot_month",
        y="cny",
        color="measure",
        barmode="group",
        labels=labels("snapshot_month", "measure") | {"cny": label("programme_cost_amount")},
        title="VIP programme cost and incremental VIP revenue VIP成本与增量收入",
    )
    return [
        _cards(
            wh,
            filters,
            ("points_liability", "points_economics", "vip_programme"),
            [
                Card(
                    "liability",
                    "Points liability 积分负债",
                    "outstanding_liability_amount",
                    lambda f: _latest(run("points_liability", f), "outstanding_liability_amount"),
                ),
                Card(
                    "outstanding-points",
                    "Outstanding points 未兑积分",
                    "outstanding_points",
                    lambda f: _latest(run("points_liability", f), "outstanding_points"),
                ),
                Card(
                    "liability-after-breakage",
                    "Liability after breakage 扣除过期后负债",
                    "liability_amount",
                    lambda f: _latest(run("points_economics", f), "liability_amount"),
                ),
                Card("vips", "VIPs VIP人数", "vip_count", lambda f: _latest(run("vip_programme", f), "vip_count")),
            ],
        ),
        _chart(
            wh, filters, ("loyalty_tiers",), "loyalty-tiers", _axes(tier_bars, "snapshot_month", "member_count", "tier")
        ),
        _chart(
            wh, filters, ("points_liability",), "loyalty-points", _axes(flows, "snapshot_month", "points", "measure")
        ),
        _chart(
            wh,
            filters,
            ("points_earn_sources",),
            "loyalty-earn-sources",
            _axes(by_source, "snapshot_month", "points_earned", "earn_source"),
        ),
        _chart(
            wh,
            filters,
            ("points_economics",),
            "loyalty-liability",
            _axes(liability, "snapshot_month", "liability_amount", "measure"),
        ),
        _chart(wh, filters, ("points_economics",), "loyalty-rates", _axes(rates, "snapshot_month", "rate", "measure")),
        _chart(
            wh,
            filters,
            ("tier_qualification",),
            "loyalty-qualification",
            _axes(near, "tier", "members", "measure"),
        ),
        _chart(
            wh, filters, ("vip_programme",), "loyalty-vip-targets", _axes(targets, "snapshot_month", "rate", "measure")
        ),
        _chart(
            wh,
            filters,
            ("vip_programme",),
            "loyalty-vip-payback",
            _axes(payback, "snapshot_month", "programme_cost_amount", "measure"),
        ),
        _table(wh, filters, "points_liability", points),
        _table(wh, filters, "tier_qualification", qualification),
        _table(wh, filters, "family_points", families),
    ]


def _weighted_nps(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """NPS over the selected months: monthly NPS weighted by its responses."""
    weighted = frame.assign(weight=frame.nps * frame.nps_response_count)
    out = weighted.groupby(keys, as_index=False)[["weight", "nps_response_count"]].sum()
    out["nps"] = out.weight / out.nps_response_count.where(out.nps_response_count > 0)
    return out.drop(columns="weight")


def nps(wh: Warehouse, filters: Filters) -> list:
    run = cache(wh.run)
    monthly = run("nps_monthly", filters)
    channels = run("nps_channels", filters)
    by_segment = run("nps_by_segment", filters)
    sla = run("complaint_sla", filters)
    level = "store" if filters.store else "mall"
    trend = monthly[monthly.breakdown == level]
    breach = sla.groupby("complaint_category", as_index=False)[["complaint_count", "breached_count"]].sum()
    breach["breach_rate"] = breach.breached_count / breach.complaint_count.where(breach.complaint_count > 0)
    follow_up = run("complaint_follow_up", filters)
    rates = run("complaint_rates", filters)
    causes = run("complaint_root_causes", filters)
    # shares and rates over the selected months are recomputed from the counts, never averaged
    scored = ["follow_up_scored_count", "follow_up_satisfied_count"]
    satisfied = follow_up.groupby("month_start_date", as_index=False)[scored].sum()
    satisfied["follow_up_satisfied_share"] = (
        satisfied.follow_up_satisfied_count
        / satisfied.follow_up_scored_count.where(satisfied.follow_up_scored_count > 0)
    )
    rate = rates.groupby(["store_category", "complaint_category"], as_index=False)[
        ["complaint_count", "sale_receipt_count"]
    ].sum()
    rate["complaints_per_1000_receipts"] = (
        1000 * rate.complaint_count / rate.sale_receipt_count.where(rate.sale_receipt_count > 0)
    )
    cause_trend = causes.groupby(["month_start_date", "root_cause_label"], as_index=False)["complaint_count"].sum()
    figure = go.Figure()
    if not trend.empty:
        figure.add_trace(
            go.Scatter(
                x=trend.month_start_date,
                y=trend.nps,
                mode="lines+markers",
                name=label("nps"),
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": trend.nps_ci95_upper - trend.nps,
                    "arrayminus": trend.nps - trend.nps_ci95_lower,
                },
            )
        )
    figure.update_layout(title=f"NPS by month 月度净推荐值 ({filters.store or 'mall 全场'}), 95% interval")
    _axes(figure, "month_start_date", "nps")
    segment_fig = px.bar(
        _weighted_nps(by_segment, ["segment_type", "segment_value"]),
        x="segment_value",
        y="nps",
        color="segment_type",
        labels=labels("segment_value", "nps", "segment_type"),
        title="NPS by segment over the selected months 分客群NPS",
    )
    channel_fig = px.bar(
        _weighted_nps(channels, ["channel"]),
        x="channel",
        y="nps",
        labels=labels("channel", "nps"),
        title="NPS by survey channel over the selected months 分渠道NPS",
    )
    breach_fig = px.bar(
        breach,
        x="complaint_category",
        y="breach_rate",
        hover_data={"complaint_count": ":,", "breached_count": ":,"},
        labels=labels("complaint_category", "breach_rate", "complaint_count", "breached_count"),
        title="Complaint SLA breach rate by category 各类投诉超时率 (2 h resolution, 48 h follow-up)",
    )
    satisfaction_fig = px.line(
        satisfied,
        x="month_start_date",
        y="follow_up_satisfied_share",
        markers=True,
        hover_data={"follow_up_scored_count": ":,", "follow_up_satisfied_count": ":,"},
        labels=labels("month_start_date", "follow_up_satisfied_share", *scored),
        title="Satisfied at the follow-up visit by month 回访满意度 (score 4-5 of 5), mall-wide",
    )
    rate_fig = px.bar(
        rate,
        x="complaint_category",
        y="complaints_per_1000_receipts",
        color="store_category",
        barmode="group",
        hover_data={"complaint_count": ":,", "sale_receipt_count": ":,"},
        labels=labels(
            "complaint_category",
            "complaints_per_1000_receipts",
            "store_category",
            "complaint_count",
            "sale_receipt_count",
        ),
        title=f"Complaints per 1,000 receipts by category 各类投诉率 ({filters.store or 'all stores 全部门店'})",
    )
    cause_fig = px.bar(
        cause_trend,
        x="month_start_date",
        y="complaint_count",
        color="root_cause_label",
        labels=labels("month_start_date", "complaint_count", "root_cause_label"),
        title="Complaint root causes by month 投诉根因趋势 (from scrubbed complaint text)",
    )
    return [
        _cards(
            wh,
            filters,
            ("metrics.nps", "metrics.nps_responses", "metrics.csat_average"),
            [
                Card("nps", "NPS 净推荐值", "nps", lambda f: wh.metric("nps", f)),
                Card("responses", "Responses 样本量", "nps_response_count", lambda f: wh.metric("nps_responses", f)),
                Card("csat", "CSAT 满意度", "csat_average", lambda f: wh.metric("csat_average", f)),
            ],
        ),
        _cards(
            wh,
            filters,
            ("metrics.complaints", "metrics.complaint_sla_breach_rate", "metrics.follow_up_satisfaction_rate"),
            [
                Card("complaints", "Complaints 投诉", "complaint_count", lambda f: wh.metric("complaints", f)),
                Card(
                    "breach-rate",
                    "SLA breach rate 超时率",
                    "breach_rate",
                    lambda f: wh.metric("complaint_sla_breach_rate", f),
                ),
                Card(
                    "follow-up-satisfaction",
                    "Satisfied at follow-up 回访满意度",
                    "follow_up_satisfied_share",
                    lambda f: wh.metric("follow_up_satisfaction_rate", f),
                ),
            ],
        ),
        _chart(wh, filters, ("nps_monthly",), "nps-trend", figure),
        _chart(wh, filters, ("nps_channels",), "nps-channels", _axes(channel_fig, "channel", "nps")),
        _chart(
            wh, filters, ("nps_by_segment",), "nps-segments", _axes(segment_fig, "segment_value", "nps", "segment_type")
        ),
        _chart(
            wh, filters, ("complaint_sla",), "complaint-sla", _axes(breach_fig, "complaint_category", "breach_rate")
        ),
        _table(wh, filters, "complaint_sla", sla),
        _chart(
            wh,
            filters,
            ("complaint_follow_up",),
            "complaint-follow-up",
            _axes(satisfaction_fig, "month_start_date", "follow_up_satisfied_share"),
        ),
        _chart(
            wh,
            filters,
            ("complaint_rates",),
            "complaint-rates",
            _axes(rate_fig, "complaint_category", "complaints_per_1000_receipts", "store_category"),
        ),
        _table(wh, filters, "complaint_rates", rates),
        _chart(
            wh,
            filters,
            ("complaint_root_causes",),
            "complaint-root-causes",
            _axes(cause_fig, "month_start_date", "complaint_count", "root_cause_label"),
        ),
        _table(wh, filters, "complaint_root_causes", causes),
    ]


def kpis(wh: Warehouse, filters: Filters) -> list:
    run = cache(wh.run)
    mall = run("mall_kpis", filters)
    stores = run("store_kpis", filters)
    if mall.empty:
        return [_empty("No sales in the selected dates.")]
    order_value = px.line(
        mall,
        x="month_start_date",
        y="average_order_value",
        hover_data={"items_per_receipt": ":.2f", "sale_receipt_count": ":,"},
        labels=labels("month_start_date", "average_order_value", "items_per_receipt", "sale_receipt_count"),
        title="Average order value by month 月度客单价 (hover: items per receipt 连带率)",
    )
    rates = px.line(
        _long(mall, ["month_start_date"], ["repurchase_rate", "points_redemption_rate"], "measure", "rate"),
        x="month_start_date",
        y="rate",
        color="measure",
        labels=labels("month_start_date", "rate", "measure"),
        title="Repurchase and points redemption rates by month 复购率与积分兑换率",
    )
    per_store = stores.groupby(["store_id", "store_category"], as_index=False).agg(
        net_revenue_amount=("net_revenue_amount", "sum"), area_sqm=("area_sqm", "first")
    )
    density = per_store.groupby("store_category", as_index=False).agg(
        net_revenue_amount=("net_revenue_amount", "sum"), area_sqm=("area_sqm", "sum")
    )
    density["net_revenue_per_sqm"] = density.net_revenue_amount / density.area_sqm.where(density.area_sqm > 0)
    density_bars = px.bar(
        density.sort_values("net_revenue_per_sqm", ascending=False),
        x="store_category",
        y="net_revenue_per_sqm",
        hover_data={"net_revenue_amount": ":,.0f", "area_sqm": ":,.0f"},
        labels=labels("store_category", "net_revenue_per_sqm", "net_revenue_amount", "area_sqm"),
        title="Sales per square metre by category over the selected months 各业态坪效",
    )
    return [
        _cards(
            wh,
            filters,
            ("metrics.average_order_value", "metrics.items_per_receipt"),
            [
                Card(
                    "aov",
                    "Average order value 客单价",
                    "average_order_value",
                    lambda f: wh.metric("average_order_value", f),
                ),
                Card(
                    "items-per-receipt",
                    "Items per receipt 连带率",
                    "items_per_receipt",
                    lambda f: wh.metric("items_per_receipt", f),
                ),
            ],
        ),
        _cards(
            wh,
            filters,
            ("metrics.points_redemption_rate", "metrics.complaint_first_response_breach_rate"),
            [
                Card(
                    "redemption-rate",
                    "Points redemption 积分兑换率",
                    "points_redemption_rate",
                    lambda f: wh.metric("points_redemption_rate", f),
                ),
                Card(
                    "first-response",
                    "First response over 30 min 首次响应超时率",
                    "first_response_breach_rate",
                    lambda f: wh.metric("complaint_first_response_breach_rate", f),
                ),
            ],
        ),
        _chart(
            wh,
            filters,
            ("mall_kpis",),
            "kpis-order-value",
            _axes(order_value, "month_start_date", "average_order_value"),
        ),
        _chart(wh, filters, ("mall_kpis",), "kpis-rates", _axes(rates, "month_start_date", "rate", "measure")),
        _chart(
            wh, filters, ("store_kpis",), "kpis-density", _axes(density_bars, "store_category", "net_revenue_per_sqm")
        ),
        _table(wh, filters, "store_kpis", stores),
    ]


def _interval_trace(frame: pd.DataFrame, x: pd.Series, y: str, low: str, high: str, name: str, color: str):
    """Points with asymmetric 95% error bars from an estimate column and its bounds."""
    return go.Scatter(
        x=x,
        y=frame[y],
        mode="markers",
        name=name,
        marker={"size": 10, "color": color},
        error_y={
            "type": "data",
            "symmetric": False,
            "array": frame[high] - frame[y],
            "arrayminus": frame[y] - frame[low],
        },
    )


def experiments(wh: Warehouse, filters: Filters) -> list:
    """Multi-arm tests with raw and corrected p-values, CUPED against the plain estimate,
    and the campaigns' effects per RFM segment: what the campaign ROI page cannot show."""
    run = cache(wh.run)
    arms = run("experiment_arms", filters)
    if arms.empty:
        return [_empty("No campaign with a control arm started in the selected dates.")]
    cuped = run("experiment_cuped", filters)
    segments = run("experiment_segments", filters)
    # multi-arm tests when there are any (two-arm campaigns' corrected p-values equal the raw one)
    shown = arms[arms.is_multi_arm] if arms.is_multi_arm.any() else arms
    shown = shown.assign(comparison=shown.campaign_name + " · " + shown.arm)
    p_values = px.bar(
        _long(
            shown,
            ["comparison"],
            ["conversion_p_value", "conversion_p_value_holm", "conversion_p_value_bh"],
            "p_value_kind",
            "p_value",
        ),
        x="comparison",
        y="p_value",
        color="p_value_kind",
        barmode="group",
        labels=labels("comparison", "p_value", "p_value_kind"),
        title="Conversion p-values per arm: raw vs corrected for the campaign's arms 各组转化p值:原始与多重比较校正",
    )
    p_values.add_hline(y=0.05, line_dash="dot", line_color="#52606d", annotation_text="0.05")
    significant = shown.is_conversion_significant_holm.fillna(False).astype(bool)
    uplift = go.Figure()
    for flag, name, color in ((True, "p (Holm) < 0.05", "#1a7f37"), (False, "n.s. after Holm", "#7b8794")):
        rows = shown[significant == flag]
        if not rows.empty:
            uplift.add_trace(
                _interval_trace(
                    rows,
                    rows.comparison,
                    "conversion_uplift",
                    "conversion_uplift_ci_low",
                    "conversion_uplift_ci_high",
                    name,
                    color,
                )
            )
    uplift.add_hline(y=0, line_dash="dot", line_color="#52606d")
    uplift.update_layout(title="Conversion uplift per arm vs control, 95% interval 各组转化提升及95%区间")
    children = [
        _cards(
            wh,
            filters,
            ("experiment_arms",),
            [
                Card(
                    "tests", "Tests 实验数", "member_count", lambda f: run("experiment_arms", f).campaign_id.nunique()
                ),
                Card(
                    "multi-arm-tests",
                    "Multi-arm tests 多臂实验",
                    "member_count",
                    lambda f: run("experiment_arms", f).query("is_multi_arm").campaign_id.nunique(),
                ),
                Card(
                    "significant-raw",
                    "Arms significant, raw 原始显著组数",
                    "member_count",
                    lambda f: int(run("experiment_arms", f).is_conversion_significant.fillna(False).sum()),
                ),
                Card(
                    "significant-holm",
                    "Arms significant after Holm Holm校正后显著组数",
                    "member_count",
                    lambda f: int(run("experiment_arms", f).is_conversion_significant_holm.fillna(False).sum()),
                ),
            ],
        ),
        _chart(
            wh,
            filters,
            ("experiment_arms",),
            "experiments-p-values",
            _axes(p_values, "comparison", "p_value", "p_value_kind"),
        ),
        _chart(
            wh,
            filters,
            ("experiment_arms",),
            "experiments-uplift",
            _axes(uplift, "comparison", "conversion_uplift", "significant"),
        ),
        _table(wh, filters, "experiment_arms", arms),
    ]
    if not cuped.empty:
        intervals = go.Figure()
        for estimate, (y, low, high), color in (
            ("plain 原始", ("revenue_uplift_per_member", "revenue_uplift_ci_low", "revenue_uplift_ci_high"), "#7b8794"),
            (
                "CUPED",
                ("cuped_revenue_uplift_per_member", "cuped_revenue_uplift_ci_low", "cuped_revenue_uplift_ci_high"),
                "#1f6feb",
            ),
        ):
            intervals.add_trace(_interval_trace(cuped, cuped.campaign_name, y, low, high, estimate, color))
        intervals.add_hline(y=0, line_dash="dot", line_color="#52606d")
        intervals.update_layout(
            title="Revenue uplift per member, plain vs CUPED, 95% interval 人均收入提升:原始与CUPED",
            scattermode="group",
        )
        reduction = px.bar(
            cuped,
            x="campaign_name",
            y="variance_reduction",
            hover_data={"pre_period_correlation": ":.2f"},
            labels=labels("campaign_name", "variance_reduction", "pre_period_correlation"),
            title="Variance reduction by CUPED per campaign 各活动CUPED方差缩减",
        )
        children += [
            _chart(
                wh,
                filters,
                ("experiment_cuped",),
                "experiments-cuped",
                _axes(intervals, "campaign_name", "revenue_uplift_per_member", "estimate"),
            ),
            _chart(
                wh,
                filters,
                ("experiment_cuped",),
                "experiments-variance-reduction",
                _axes(reduction, "campaign_name", "variance_reduction"),
            ),
            _table(wh, filters, "experiment_cuped", cuped),
        ]
    if not segments.empty:
        by_segment = px.scatter(
            segments.assign(
                upper=segments.conversion_uplift_ci_high - segments.conversion_uplift,
                lower=segments.conversion_uplift - segments.conversion_uplift_ci_low,
            ),
            x="rfm_segment",
            y="conversion_uplift",
            color="campaign_name",
            error_y="upper",
            error_y_minus="lower",
            hover_data={"treatment_member_count": True, "control_member_count": True, "upper": False, "lower": False},
            labels=labels(
                "rfm_segment", "conversion_uplift", "campaign_name", "treatment_member_count", "control_member_count"
            ),
            title="Conversion uplift per RFM segment, 95% interval (treatment arms pooled) 分客群转化提升",
        )
        by_segment.update_layout(scattermode="group")
        by_segment.add_hline(y=0, line_dash="dot", line_color="#52606d")
        children += [
            _chart(
                wh,
                filters,
                ("experiment_segments",),
                "experiments-segments",
                _axes(by_segment, "rfm_segment", "conversion_uplift", "campaign_name"),
            ),
            _table(wh, filters, "experiment_segments", segments),
        ]
    return children


def omnichannel(wh: Warehouse, filters: Filters) -> list:
    """Online engagement and identity resolution: who is active in the app and mini-program,
    and how many anonymous events and identifiers the identity graph tied to members."""
    run = cache(wh.run)
    engagement = run("digital_engagement", filters)
    links = run("identity_links", filters)
    if engagement.empty:
        return [_empty("No app or mini-program events in the selected dates.")]
    actions = px.bar(
        _long(
            engagement,
            ["month_start_date"],
            ["check_ins", "coupon_claims", "activity_signups", "games_played"],
            "measure",
            "events",
        ),
        x="month_start_date",
        y="events",
        color="measure",
        barmode="group",
        labels=labels("month_start_date", "events", "measure"),
        title="Check-ins, coupon claims, sign-ups and games by month 签到、领券、报名与游戏",
    )
    rates = px.line(
        _long(
            engagement,
            ["month_start_date"],
            ["digital_engaged_share", "attendance_rate", "anonymous_attribution_rate"],
            "measure",
            "rate",
        ),
        x="month_start_date",
        y="rate",
        color="measure",
        labels=labels("month_start_date", "rate", "measure"),
        title="Digitally active share, attendance and anonymous attribution 线上活跃、到场率与匿名归因",
    )
    by_kind = links.groupby("identifier_type", as_index=False).agg(identifier_count=("identifier_count", "sum"))
    kinds = px.bar(
        by_kind.sort_values("identifier_count", ascending=False),
        x="identifier_type",
        y="identifier_count",
        labels=labels("identifier_type", "identifier_count"),
        title="Identifiers resolved to members, by kind 身份图谱:各类标识",
    )
    return [
        _cards(
            wh,
            filters,
            ("metrics.digital_check_ins", "metrics.anonymous_attribution_rate"),
            [
                Card("check-ins", "Check-ins 签到", "check_ins", lambda f: wh.metric("digital_check_ins", f)),
                Card(
                    "attribution-rate",
                    "Anonymous attribution 匿名归因率",
                    "anonymous_attribution_rate",
                    lambda f: wh.metric("anonymous_attribution_rate", f),
                ),
            ],
        ),
        _chart(
            wh,
            filters,
            ("digital_engagement",),
            "omnichannel-actions",
            _axes(actions, "month_start_date", "events", "measure"),
        ),
        _chart(
            wh,
            filters,
            ("digital_engagement",),
            "omnichannel-rates",
            _axes(rates, "month_start_date", "rate", "measure"),
        ),
        _chart(
            wh,
            filters,
            ("identity_links",),
            "omnichannel-identities",
            _axes(kinds, "identifier_type", "identifier_count"),
        ),
        _table(wh, filters, "digital_engagement", engagement),
    ]


PAGES: tuple[Page, ...] = (
    Page(
        "/lifecycle",
        "Member lifecycle",
        "会员生命周期",
        ("lifecycle_kpis", "lifecycle_stages", "member_scores_by_stage"),
        lifecycle,
    ),
    Page("/basket", "Product association", "商品关联", ("basket_rules",), basket),
    Page(
        "/traffic",
        "Foot traffic",
        "客流热力",
        ("traffic_heatmap", "zone_dwell", "zone_transitions", "traffic_conversion"),
        traffic,
    ),
    Page("/kpis", "Retail KPIs", "经营指标", ("mall_kpis", "store_kpis"), kpis),
    Page("/campaigns", "Campaign ROI", "营销ROI", ("campaign_roi", "uplift_qini"), campaigns),
    Page(
        "/audiences",
        "Audiences",
        "营销人群",
        ("audience_runs", "audience_overlaps", "channel_consent_coverage"),
        audiences,
    ),
    Page(
        "/experiments",
        "Experiments",
        "实验分析",
        ("experiment_arms", "experiment_cuped", "experiment_segments"),
        experiments,
    ),
    Page("/rfm", "RFM segments", "RFM客群", ("rfm_segments", "rfm_migration", "behaviour_segments"), rfm),
    Page(
        "/loyalty",
        "Loyalty",
        "会员忠诚度",
        (
            "loyalty_tiers",
            "points_liability",
            "points_earn_sources",
            "points_economics",
            "tier_qualification",
            "vip_programme",
            "family_points",
        ),
        loyalty,
    ),
    Page("/digital", "Omnichannel", "全渠道", ("digital_engagement", "identity_links"), omnichannel),
    Page(
        "/nps",
        "NPS and complaints",
        "NPS与投诉",
        (
            "nps_monthly",
            "nps_channels",
            "nps_by_segment",
            "complaint_sla",
            "complaint_follow_up",
            "complaint_rates",
            "complaint_root_causes",
        ),
        nps,
    ),
)
