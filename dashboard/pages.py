"""The dashboards: which queries each page runs and how it draws them.

Each page is a function from the warehouse and the current filters to Dash components.
Charts are plotly figures; every table a page shows can be downloaded as CSV (the app
wires the buttons, see app.py). KPI tiles carry `kpi-<name>` ids so the browser tests can
read the numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
from dash import dash_table, dcc, html

from dashboard.queries import Filters, Warehouse


@dataclass(frozen=True)
class Page:
    path: str
    title: str
    title_zh: str
    queries: tuple[str, ...]  # the query files it reads (and offers as CSV)
    render: Callable[[Warehouse, Filters], list]


def _kpi(name: str, label: str, value: str) -> html.Div:
    return html.Div(
        [html.Div(label, className="kpi-label"), html.Div(value, id=f"kpi-{name}", className="kpi-value")],
        className="kpi",
    )


def _pct(value) -> str:
    return "—" if value is None or pd.isna(value) else f"{value:.1%}"


def _num(value, digits: int = 0) -> str:
    return "—" if value is None or pd.isna(value) else f"{value:,.{digits}f}"


def _graph(name: str, figure: go.Figure) -> dcc.Graph:
    figure.update_layout(margin={"l": 40, "r": 20, "t": 50, "b": 40}, height=380, template="plotly_white")
    return dcc.Graph(id=f"graph-{name}", figure=figure, className="chart", config={"displaylogo": False})


def _display(frame: pd.DataFrame) -> pd.DataFrame:
    """Dates as ISO days and ratios at 4 decimals, for reading (the CSV keeps full values)."""
    shown = frame.copy()
    for column in shown.columns:
        if pd.api.types.is_datetime64_any_dtype(shown[column]):
            shown[column] = shown[column].dt.strftime("%Y-%m-%d")
        elif pd.api.types.is_float_dtype(shown[column]):
            shown[column] = shown[column].round(4)
    return shown


def _table(query: str, frame: pd.DataFrame, rows: int = 12) -> html.Div:
    shown = _display(frame.head(200))
    return html.Div(
        [
            html.Div(
                [
                    html.Span(f"{query} ({len(frame):,} rows)", className="table-title"),
                    html.Button("Download CSV", id={"type": "download-button", "query": query}, className="download"),
                ],
                className="table-head",
            ),
            dash_table.DataTable(
                id=f"table-{query}",
                data=shown.astype(object).where(shown.notna(), None).to_dict("records"),
                columns=[{"name": c, "id": c} for c in shown.columns],
                page_size=rows,
                style_table={"overflowX": "auto"},
                style_cell={"fontFamily": "inherit", "fontSize": 12, "padding": "4px"},
            ),
        ],
        className="table-block",
    )


def _empty(message: str) -> html.Div:
    return html.Div(message, className="empty-note")


def lifecycle(wh: Warehouse, filters: Filters) -> list:
    kpis = wh.run("lifecycle_kpis", filters)
    stages = wh.run("lifecycle_stages", filters)
    scores = wh.run("member_scores_by_stage", filters)
    if kpis.empty:
        return [_empty("No lifecycle snapshots in the selected dates.")]
    latest = kpis.iloc[-1]
    rates = kpis.melt(
        id_vars="snapshot_month",
        value_vars=["new_customer_conversion_rate", "dormant_reactivation_rate", "high_value_retention_rate"],
        var_name="kpi",
        value_name="rate",
    )
    return [
        html.Div(
            [
                _kpi("new-conversion", "New-customer conversion 新客转化", _pct(latest.new_customer_conversion_rate)),
                _kpi("dormant-reactivation", "Dormant reactivation 沉睡唤醒", _pct(latest.dormant_reactivation_rate)),
                _kpi("high-value-retention", "High-value retention 高价值留存", _pct(latest.high_value_retention_rate)),
                _kpi(
                    "members",
                    "Members in stages 会员数",
                    _num(stages[stages.snapshot_month == latest.snapshot_month].member_count.sum()),
                ),
            ],
            className="kpis",
        ),
        _graph(
            "lifecycle-rates",
            px.line(rates, x="snapshot_month", y="rate", color="kpi", markers=True, title="Lifecycle KPIs by month"),
        ),
        _graph(
            "lifecycle-stages",
            px.area(
                stages,
                x="snapshot_month",
                y="member_count",
                color="lifecycle_stage",
                title="Members by lifecycle stage",
            ),
        ),
        _graph(
            "lifecycle-churn",
            px.bar(
                scores,
                x="lifecycle_stage",
                y="avg_churn_probability",
                hover_data=["scored_member_count", "predicted_clv_amount"],
                title="Mean churn probability by stage (ML scores; empty until scored)",
            ),
        ),
        _table("lifecycle_kpis", kpis),
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
    labels = sorted(set(sources) | set(targets))
    # antecedents on the left, consequents on the right: one node per side
    left = {c: i for i, c in enumerate(labels)}
    right = {c: i + len(labels) for i, c in enumerate(labels)}
    sankey = go.Figure(
        go.Sankey(
            node={"label": labels + labels, "pad": 12},
            link={
                "source": [left[c] for c in sources],
                "target": [right[c] for c in targets],
                "value": list(top.rule_basket_count),
                "customdata": top[["support", "confidence", "lift"]].round(4).to_numpy().tolist(),
                "hovertemplate": "%{source.label} → %{target.label}<br>baskets %{value}<br>support %{customdata[0]}"
                "<br>confidence %{customdata[1]}<br>lift %{customdata[2]}<extra></extra>",
            },
        )
    )
    how = "FP-Growth" if fp_growth else "SQL pair counts, until the first ML run"
    sankey.update_layout(title=f"Cross-category rules (top 25 pairs by lift, {how}): bought → also bought")
    components = [
        html.Div(
            [
                _kpi("rules", "Rules 关联规则", _num(len(rules))),
                _kpi("max-lift", "Highest lift 最高提升度", _num(rules.lift.max(), 2)),
                _kpi("baskets", "Baskets mined 购物篮数", _num(category.total_basket_count.max())),
                _kpi(
                    "model",
                    "Rules from 规则来源",
                    f"{FP_GROWTH} {rules.model_version.dropna().iloc[0]}" if fp_growth else "SQL pairs",
                ),
            ],
            className="kpis",
        ),
        _graph("basket-sankey", sankey),
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
            hover_data={"support": ":.4f", "confidence": ":.3f", "rule_basket_count": True},
            title="Product rules (same receipt, top 15 by lift): bought → also bought",
        )
        bars.update_layout(yaxis_title=None)
        components.append(_graph("basket-products", bars))
    components.append(_table("basket_rules", rules))
    return components


def traffic(wh: Warehouse, filters: Filters) -> list:
    heat = wh.run("traffic_heatmap", filters)
    dwell = wh.run("zone_dwell", filters)
    conversion = wh.run("traffic_conversion", filters)
    if heat.empty:
        return [_empty("No people-counter data yet.")]
    grid = heat.pivot_table(index="zone_name", columns="hour_of_day", values="avg_people_in_per_day", aggfunc="sum")
    heatmap = go.Figure(go.Heatmap(z=grid.values, x=list(grid.columns), y=list(grid.index), colorscale="YlOrRd"))
    heatmap.update_layout(title="People entering per day, zone x hour", xaxis_title="hour", yaxis_title="zone")
    per_zone = dwell.groupby("zone_name", as_index=False).agg(
        dwell_minutes=("dwell_minutes", "sum"), visit_count=("visit_count", "sum")
    )
    per_zone["avg_dwell_minutes_per_visit"] = per_zone.dwell_minutes / per_zone.visit_count.where(
        per_zone.visit_count > 0
    )
    daily = conversion.groupby("business_date", as_index=False).agg(
        visitor_count=("visitor_count", "sum"), transaction_count=("transaction_count", "sum")
    )
    daily["transactions_per_visitor"] = daily.transaction_count / daily.visitor_count.where(daily.visitor_count > 0)
    visitors = conversion.visitor_count.sum()
    return [
        html.Div(
            [
                _kpi("visitors", "Store visitors 进店客流", _num(visitors)),
                _kpi("transactions", "Receipts 成交笔数", _num(conversion.transaction_count.sum())),
                _kpi(
                    "conversion",
                    "Conversion 转化率",
                    _pct(conversion.transaction_count.sum() / visitors if visitors else None),
                ),
            ],
            className="kpis",
        ),
        _graph("traffic-heatmap", heatmap),
        _graph(
            "traffic-dwell",
            px.bar(
                per_zone,
                x="zone_name",
                y="avg_dwell_minutes_per_visit",
                title="Average dwell per visit (minutes) by zone",
            ),
        ),
        _graph(
            "traffic-conversion",
            px.line(daily, x="business_date", y="transactions_per_visitor", title="Receipts per store visitor by day"),
        ),
        _table("traffic_conversion", conversion),
    ]


def campaigns(wh: Warehouse, filters: Filters) -> list:
    roi = wh.run("campaign_roi", filters)
    if roi.empty:
        return [_empty("No campaigns started in the selected dates.")]
    treatment = roi[roi.arm == "treatment"].copy()
    treatment["significant"] = treatment.is_revenue_significant.fillna(False).map({True: "p < 0.05", False: "n.s."})
    return [
        html.Div(
            [
                _kpi("campaigns", "Campaigns 活动数", _num(treatment.campaign_id.nunique())),
                _kpi(
                    "incremental-revenue",
                    "Incremental revenue 增量收入 (CNY)",
                    _num(treatment.incremental_revenue_amount.sum()),
                ),
                _kpi("cost", "Cost 成本 (CNY)", _num(treatment.cost_amount.sum())),
            ],
            className="kpis",
        ),
        _graph(
            "campaign-roi",
            px.bar(
                treatment,
                x="campaign_name",
                y="roi",
                color="significant",
                title="ROI per campaign (treatment over control)",
            ),
        ),
        _graph(
            "campaign-incremental",
            px.bar(
                treatment,
                x="campaign_name",
                y=["incremental_revenue_amount", "incremental_margin_amount"],
                barmode="group",
                title="Incremental revenue and margin (CNY)",
            ),
        ),
        _table("campaign_roi", roi),
    ]


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
    runs = wh.run("audience_runs", filters)
    if runs.empty:
        if wh.run("audience_runs").empty:
            return [_empty(NO_AUDIENCE)]
        return [_empty("No audience runs in the selected dates.")]
    overlaps = wh.run("audience_overlaps", filters)
    coverage = wh.run("channel_consent_coverage", filters)
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
        title="Audience size per run (treatment 实验组 + control 对照组)",
    )
    sizes.update_layout(xaxis_title="run date", xaxis_type="category", yaxis_title="members")
    gates = px.bar(
        excluded,
        x="audience",
        y="members",
        color="gate",
        category_orders={"gate": list(AUDIENCE_GATES.values())},
        title="Members excluded per gate (selected run dates)",
    )
    gates.update_layout(barmode="stack", xaxis_title=None, legend_title="gate 门禁")
    components = [
        html.Div(
            [
                _kpi("audience-runs", "Audience runs 人群批次", _num(len(runs))),
                _kpi("contacted", "Members contacted 触达会员", _num(runs.treatment_count.sum())),
                _kpi("held-out", "Held out 对照组", _num(runs.control_count.sum())),
                _kpi("excluded", "Excluded by gates 门禁排除", _num(runs[list(AUDIENCE_GATES)].to_numpy().sum())),
                _kpi(
                    "significant",
                    "Significant uplifts 显著提升",
                    f"{int(measured.is_conversion_significant.fillna(False).sum())} / {len(measured)} measured",
                ),
            ],
            className="kpis",
        ),
        _graph("audience-sizes", sizes),
    ]
    latest_overlaps = overlaps[overlaps.run_date == overlaps.run_date.max()] if not overlaps.empty else overlaps
    if not latest_overlaps.empty:
        overlap_date = latest_overlaps.run_date.iloc[0]
        names = set(latest_overlaps.audience) | set(latest_overlaps.other_audience)
        names |= set(runs[runs.run_date == overlap_date].audience)
        components.append(_graph("audience-overlaps", _overlap_heatmap(latest_overlaps, sorted(names), overlap_date)))
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
            title=f"Consent coverage per channel 渠道同意覆盖率 ({coverage_date:%Y-%m-%d}, active adult members)",
        )
        consent.update_layout(yaxis_tickformat=".0%", yaxis_range=[0, 1], yaxis_title="consenting share")
        components.append(_graph("consent-coverage", consent))
    components.append(_graph("audience-exclusions", gates))
    if not measured.empty:
        components.append(_graph("audience-uplift", _uplift_chart(measured)))
    else:
        components.append(
            html.P(
                "No activation measured yet: the uplift shows once the marketing system reports a campaign back.",
                className="note",
            )
        )
    components.append(_table("audience_runs", runs.drop(columns=["members", "run_day"])))
    return components


def rfm(wh: Warehouse, filters: Filters) -> list:
    segments = wh.run("rfm_segments", filters)
    migration = wh.run("rfm_migration", filters)
    behaviour = wh.run("behaviour_segments", filters)
    if segments.empty:
        return [_empty("No RFM snapshots in the selected dates.")]
    latest_month = segments.snapshot_month.max()
    latest = segments[segments.snapshot_month == latest_month]
    by_segment = latest.groupby("rfm_segment", as_index=False).member_count.sum().sort_values("member_count")
    by_class = latest.groupby("rfm_class_label", as_index=False).member_count.sum()
    moves = migration[migration.snapshot_month == migration.snapshot_month.max()] if not migration.empty else migration
    matrix = moves.pivot_table(index="from_segment", columns="to_segment", values="member_count", aggfunc="sum")
    migration_fig = go.Figure(
        go.Heatmap(z=matrix.values, x=list(matrix.columns), y=list(matrix.index), colorscale="Blues")
    )
    migration_fig.update_layout(title="Segment migration, latest month (from → to)")
    return [
        html.Div(
            [
                _kpi("rfm-members", "Members scored 已评分会员", _num(latest.member_count.sum())),
                _kpi("rfm-segments", "Segments 客群数", _num(by_segment.rfm_segment.nunique())),
            ],
            className="kpis",
        ),
        _graph(
            "rfm-segments",
            px.bar(
                by_segment,
                x="member_count",
                y="rfm_segment",
                orientation="h",
                title=f"Members per RFM segment ({latest_month:%Y-%m})",
            ),
        ),
        _graph(
            "rfm-classes",
            px.pie(by_class, names="rfm_class_label", values="member_count", title="8-class customer value (RFM八类)"),
        ),
        _graph("rfm-migration", migration_fig),
        _graph(
            "behaviour-segments",
            px.bar(
                behaviour,
                x="behaviour_segment",
                y="member_count",
                hover_data=["avg_churn_probability", "avg_predicted_clv"],
                title="Behavioural segments (K-means model)",
            ),
        ),
        _table("rfm_segments", segments),
    ]


def loyalty(wh: Warehouse, filters: Filters) -> list:
    tiers = wh.run("loyalty_tiers", filters)
    points = wh.run("points_liability", filters)
    if tiers.empty:
        return [_empty("No tier snapshots in the selected dates.")]
    latest = points.iloc[-1] if not points.empty else None
    return [
        html.Div(
            [
                _kpi(
                    "liability",
                    "Points liability 积分负债 (CNY)",
                    _num(None if latest is None else latest.outstanding_liability_amount),
                ),
                _kpi(
                    "outstanding-points",
                    "Outstanding points 未兑积分",
                    _num(None if latest is None else latest.outstanding_points),
                ),
            ],
            className="kpis",
        ),
        _graph(
            "loyalty-tiers",
            px.bar(tiers, x="snapshot_month", y="member_count", color="tier", title="Members per tier by month"),
        ),
        _graph(
            "loyalty-points",
            px.bar(
                points,
                x="snapshot_month",
                y=["points_earned", "points_redeemed", "points_expired"],
                barmode="group",
                title="Points earned, redeemed and expired",
            ),
        ),
        _table("points_liability", points),
    ]


def _weighted_nps(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """NPS over the selected months: monthly NPS weighted by its responses."""
    weighted = frame.assign(weight=frame.nps * frame.nps_response_count)
    out = weighted.groupby(keys, as_index=False)[["weight", "nps_response_count"]].sum()
    out["nps"] = out.weight / out.nps_response_count.where(out.nps_response_count > 0)
    return out.drop(columns="weight")


def nps(wh: Warehouse, filters: Filters) -> list:
    monthly = wh.run("nps_monthly", filters)
    by_segment = wh.run("nps_by_segment", filters)
    sla = wh.run("complaint_sla", filters)
    level = "store" if filters.store else "mall"
    trend = monthly[monthly.breakdown == level]
    channels = monthly[monthly.breakdown == "channel"]
    responses = trend.nps_response_count.sum()
    weighted = (trend.nps * trend.nps_response_count).sum() / responses if responses else None
    breach = sla.groupby("complaint_category", as_index=False)[["complaint_count", "breached_count"]].sum()
    breach["breach_rate"] = breach.breached_count / breach.complaint_count.where(breach.complaint_count > 0)
    figure = go.Figure()
    if not trend.empty:
        figure.add_trace(
            go.Scatter(
                x=trend.month_start_date,
                y=trend.nps,
                mode="lines+markers",
                name="NPS",
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": trend.nps_ci95_upper - trend.nps,
                    "arrayminus": trend.nps - trend.nps_ci95_lower,
                },
            )
        )
    figure.update_layout(title=f"NPS by month ({level}), 95% interval")
    segment_fig = px.bar(
        _weighted_nps(by_segment, ["segment_type", "segment_value"]),
        x="segment_value",
        y="nps",
        color="segment_type",
        title="NPS by segment over the selected months",
    )
    return [
        html.Div(
            [
                _kpi("nps", "NPS 净推荐值", _num(weighted, 1)),
                _kpi("responses", "Responses 样本量", _num(responses)),
                _kpi("complaints", "Complaints 投诉", _num(sla.complaint_count.sum())),
                _kpi(
                    "breach-rate",
                    "SLA breach rate 超时率",
                    _pct(sla.breached_count.sum() / sla.complaint_count.sum() if sla.complaint_count.sum() else None),
                ),
            ],
            className="kpis",
        ),
        _graph("nps-trend", figure),
        _graph(
            "nps-channels",
            px.bar(
                _weighted_nps(channels, ["breakdown_value"]),
                x="breakdown_value",
                y="nps",
                title="NPS by survey channel over the selected months",
            ),
        ),
        _graph("nps-segments", segment_fig),
        _graph(
            "complaint-sla",
            px.bar(
                breach,
                x="complaint_category",
                y="breach_rate",
                title="Complaint SLA breach rate by category (2 h resolution, 48 h follow-up)",
            ),
        ),
        _table("complaint_sla", sla),
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
    Page("/traffic", "Foot traffic", "客流热力", ("traffic_heatmap", "zone_dwell", "traffic_conversion"), traffic),
    Page("/campaigns", "Campaign ROI", "营销ROI", ("campaign_roi",), campaigns),
    Page(
        "/audiences",
        "Audiences",
        "营销人群",
        ("audience_runs", "audience_overlaps", "channel_consent_coverage"),
        audiences,
    ),
    Page("/rfm", "RFM segments", "RFM客群", ("rfm_segments", "rfm_migration", "behaviour_segments"), rfm),
    Page("/loyalty", "Loyalty", "会员忠诚度", ("loyalty_tiers", "points_liability"), loyalty),
    Page("/nps", "NPS and complaints", "NPS与投诉", ("nps_monthly", "nps_by_segment", "complaint_sla"), nps),
)
