"""The one label table of the dashboards: every column's English and Chinese name and its
number format, for chart axes, legends, hover text, table headers and KPI cards alike.

Charts and cards must read a rate the same way (a fraction drawn as a percentage, never
0.23 on an axis and 23.0% on a card), so both take the format from here; a page never
names a column for display itself. `tests/dashboard/test_labels.py` checks that every
column a dashboard query returns has a row.
"""

from __future__ import annotations

import math
from typing import Literal

import plotly.graph_objects as go
from dash.dash_table.Format import Format, Group, Scheme, Symbol

Kind = Literal["text", "date", "int", "dec", "pct", "pts", "cny", "score", "p"]

# column -> (English, 中文, kind). Kinds: int counts, dec decimals, pct a fraction shown
# as a percentage, pts a difference of two rates (percentage points), cny yuan, score an
# NPS (-100..100), p a p-value.
COLUMNS: dict[str, tuple[str, str, Kind]] = {
    # dates and periods
    "snapshot_month": ("Month", "月份", "date"),
    "month_start_date": ("Month", "月份", "date"),
    "business_date": ("Day", "日期", "date"),
    "run_date": ("Run date", "批次日期", "date"),
    "run_day": ("Run date", "批次日期", "text"),
    "start_date": ("Start", "开始日期", "date"),
    "end_date": ("End", "结束日期", "date"),
    "campaign_start_date": ("Campaign start", "活动开始", "date"),
    "campaign_end_date": ("Campaign end", "活动结束", "date"),
    "cutoff_date": ("Data up to", "数据截止", "date"),
    "hour_of_day": ("Hour", "小时", "int"),
    # members, stages and segments
    "member_count": ("Members", "会员数", "int"),
    "members": ("Members", "会员数", "int"),
    "lifecycle_stage": ("Lifecycle stage", "生命周期阶段", "text"),
    "rfm_segment": ("RFM segment", "RFM客群", "text"),
    "rfm_class_label": ("RFM class", "RFM八类", "text"),
    "from_segment": ("From segment", "迁出客群", "text"),
    "to_segment": ("To segment", "迁入客群", "text"),
    "share_of_from_segment": ("Share of from-segment", "迁出占比", "pct"),
    "behaviour_segment": ("Behavioural segment", "行为客群", "text"),
    "segment_type": ("Segment type", "客群维度", "text"),
    "segment_value": ("Segment", "客群", "text"),
    "avg_monetary_amount": ("Mean spend", "平均消费", "cny"),
    "avg_recency_days": ("Mean days since purchase", "平均未购天数", "dec"),
    "scored_member_count": ("Scored members", "已评分会员", "int"),
    "avg_churn_probability": ("Mean churn probability", "平均流失概率", "pct"),
    "avg_predicted_clv": ("Mean predicted value", "平均预测价值", "cny"),
    "predicted_clv_amount": ("Predicted lifetime value", "预测生命周期价值", "cny"),
    "churn_probability_total": ("Churn probability total", "流失概率合计", "dec"),
    "predicted_clv_total": ("Predicted value total", "预测价值合计", "cny"),
    # lifecycle KPIs
    "kpi": ("KPI", "指标", "text"),
    "rate": ("Rate", "比率", "pct"),
    "new_customer_conversion_rate": ("New-customer conversion", "新客转化率", "pct"),
    "dormant_reactivation_rate": ("Dormant reactivation", "沉睡唤醒率", "pct"),
    "high_value_retention_rate": ("High-value retention", "高价值留存率", "pct"),
    "new_customers_converted": ("New customers converted", "新客转化数", "int"),
    "new_customer_base": ("New customers", "新客数", "int"),
    "dormant_reactivated": ("Dormant reactivated", "唤醒数", "int"),
    "dormant_base": ("Dormant members", "沉睡会员", "int"),
    "high_value_retained": ("High-value retained", "高价值留存数", "int"),
    "high_value_base": ("High-value members", "高价值会员", "int"),
    "registered_members": ("Registered members", "注册会员", "int"),
    # loyalty
    "tier": ("Tier", "等级", "text"),
    "tier_rank": ("Tier rank", "等级序", "int"),
    "member_share": ("Share of members", "会员占比", "pct"),
    "upgrades_in": ("Upgrades", "升级", "int"),
    "downgrades_in": ("Downgrades", "降级", "int"),
    "points": ("Points", "积分", "int"),
    "points_earned": ("Points earned", "获得积分", "int"),
    "points_redeemed": ("Points redeemed", "兑换积分", "int"),
    "points_expired": ("Points expired", "过期积分", "int"),
    "outstanding_points": ("Outstanding points", "未兑积分", "int"),
    "outstanding_liability_amount": ("Points liability", "积分负债", "cny"),
    "members_with_points": ("Members with points", "有积分会员", "int"),
    # loyalty economics: earn sources, liability, tier qualification, VIP programme, family pools
    "earn_source": ("Earn source", "积分来源", "text"),
    "earning_member_count": ("Earning members", "获得积分会员", "int"),
    "bonus_points": ("Festival bonus points", "节日加倍积分", "int"),
    "points_share": ("Share of points", "积分占比", "pct"),
    "redemption_rate": ("Redemption rate", "积分兑换率", "pct"),
    "points_plus_cash_receipts": ("Points + cash receipts", "积分+现金笔数", "int"),
    "points_plus_cash_share": ("Points + cash share", "积分+现金占比", "pct"),
    "points_plus_cash_points_amount": ("Points paid (points + cash)", "积分+现金中积分抵扣", "cny"),
    "expected_breakage_rate": ("Expected breakage", "预期过期率", "pct"),
    "face_value_amount": ("Points face value", "积分面值", "cny"),
    "liability_amount": ("Liability after breakage", "扣除过期后积分负债", "cny"),
    "near_upgrade_count": ("Near an upgrade", "临近升级", "int"),
    "downgrade_risk_count": ("At risk of downgrade", "面临降级", "int"),
    "above_rules_count": ("Above the tier rules", "高于等级规则", "int"),
    "avg_gap_to_next_tier_amount": ("Mean gap to next tier", "距下一等级平均差额", "cny"),
    "vip_count": ("VIPs", "VIP人数", "int"),
    "vip_count_growth": ("VIP growth vs last year", "VIP人数同比", "pct"),
    "vip_count_growth_target": ("VIP growth target", "VIP人数增长目标", "pct"),
    "vip_repurchase_rate": ("VIP repurchase rate", "VIP复购率", "pct"),
    "vip_repurchase_growth": ("VIP repurchase growth vs last year", "VIP复购率同比", "pct"),
    "vip_repurchase_growth_target": ("VIP repurchase growth target", "VIP复购增长目标", "pct"),
    "vip_satisfaction_rate": ("VIP satisfaction (CSAT 4-5)", "VIP满意度", "pct"),
    "vip_satisfaction_target": ("VIP satisfaction target", "VIP满意度目标", "pct"),
    "programme_cost_amount": ("Programme cost", "计划成本", "cny"),
    "new_vip_count": ("New VIPs", "新增VIP", "int"),
    "incremental_vip_revenue_amount": ("Incremental VIP revenue", "VIP增量收入", "cny"),
    "family_size": ("Family size", "家庭人数", "int"),
    "family_count": ("Families", "家庭数", "int"),
    "pool_points_balance": ("Pooled points", "家庭积分池", "int"),
    "pool_liability_amount": ("Pool liability", "积分池负债", "cny"),
    "pool_points_expiring_30d": ("Pool points expiring in 30 days", "30天内过期积分", "int"),
    "points_transferred_to_date": ("Points transferred", "已转赠积分", "int"),
    # traffic and sales
    "store_id": ("Store", "门店", "text"),
    "favourite_store_id": ("Favourite store", "常去门店", "text"),
    "zone_id": ("Zone id", "区域编号", "text"),
    "zone_name": ("Zone", "区域", "text"),
    "zone_type": ("Zone type", "区域类型", "text"),
    "visitor_count": ("Store visitors", "进店客流", "int"),
    "transaction_count": ("Receipts", "成交笔数", "int"),
    "net_revenue_amount": ("Net revenue", "净销售额", "cny"),
    "transactions_per_visitor": ("Receipts per visitor", "进店转化率", "pct"),
    "people_in": ("People in", "进入人次", "int"),
    "avg_people_in_per_day": ("People in per day", "日均进入人次", "dec"),
    "device_count": ("Wi-Fi devices", "Wi-Fi设备数", "int"),
    "visit_count": ("Visits", "到访次数", "int"),
    "dwell_minutes": ("Dwell minutes", "驻留分钟", "int"),
    "avg_dwell_minutes_per_visit": ("Dwell per visit (min)", "单次驻留(分钟)", "dec"),
    # baskets
    "rule_source": ("Rules from", "规则来源", "text"),
    "rule_level": ("Level", "层级", "text"),
    "rule_rank": ("Rank", "排名", "int"),
    "rule": ("Rule", "规则", "text"),
    "antecedent": ("Bought (id)", "购买(编号)", "text"),
    "consequent": ("Also bought (id)", "连带(编号)", "text"),
    "antecedent_label": ("Bought", "购买", "text"),
    "consequent_label": ("Also bought", "连带购买", "text"),
    "rule_basket_count": ("Baskets with rule", "规则购物篮", "int"),
    "antecedent_basket_count": ("Baskets with bought", "前项购物篮", "int"),
    "total_basket_count": ("Baskets", "购物篮数", "int"),
    "support": ("Support", "支持度", "pct"),
    "confidence": ("Confidence", "置信度", "pct"),
    "lift": ("Lift", "提升度", "dec"),
    "model_version": ("Model version", "模型版本", "text"),
    # campaigns
    "campaign_id": ("Campaign id", "活动编号", "text"),
    "campaign_name": ("Campaign", "活动", "text"),
    "campaign_channel": ("Channel", "渠道", "text"),
    "arm": ("Arm", "分组", "text"),
    "conversion_rate": ("Conversion", "转化率", "pct"),
    "revenue_per_member": ("Revenue per member", "人均收入", "cny"),
    "incremental_revenue_amount": ("Incremental revenue", "增量收入", "cny"),
    "incremental_margin_amount": ("Incremental margin", "增量毛利", "cny"),
    "cost_amount": ("Cost", "成本", "cny"),
    "roi": ("ROI", "投资回报率", "pct"),
    "cac_amount": ("Cost per acquisition", "获客成本", "cny"),
    "coupon_redemption_rate": ("Coupon redemption", "券核销率", "pct"),
    "conversion_p_value": ("Conversion p-value", "转化p值", "p"),
    "revenue_p_value": ("Revenue p-value", "收入p值", "p"),
    "is_conversion_significant": ("Conversion significant", "转化显著", "text"),
    "is_revenue_significant": ("Revenue significant", "收入显著", "text"),
    "has_sample_ratio_mismatch": ("Sample ratio mismatch", "样本比例失衡", "text"),
    "significant": ("Significance", "显著性", "text"),
    "measure": ("Measure", "指标", "text"),
    "amount": ("Amount", "金额", "cny"),
    # audiences
    "run_id": ("Run", "批次", "text"),
    "audience": ("Audience", "人群", "text"),
    "other_audience": ("Other audience", "对比人群", "text"),
    "audience_label": ("Audience name", "人群名称", "text"),
    "channel": ("Channel", "渠道", "text"),
    "purpose": ("Purpose", "目的", "text"),
    "status": ("Status", "状态", "text"),
    "holdout_share": ("Holdout share", "对照比例", "pct"),
    "candidate_count": ("Candidates", "候选会员", "int"),
    "eligible_count": ("Eligible", "合格会员", "int"),
    "treatment_count": ("Treatment", "实验组", "int"),
    "control_count": ("Control", "对照组", "int"),
    "excluded_consent_count": ("Excluded: no consent", "排除:未同意", "int"),
    "excluded_minor_count": ("Excluded: minor", "排除:未成年", "int"),
    "excluded_erased_count": ("Excluded: erased", "排除:已删除", "int"),
    "excluded_open_complaint_count": ("Excluded: open complaint", "排除:未结投诉", "int"),
    "excluded_frequency_cap_count": ("Excluded: frequency cap", "排除:频次上限", "int"),
    "check_violation_count": ("Check violations", "校验违规", "int"),
    "is_measured": ("Measured", "已评估", "text"),
    "treatment_conversion_rate": ("Treatment conversion", "实验组转化率", "pct"),
    "control_conversion_rate": ("Control conversion", "对照组转化率", "pct"),
    "conversion_uplift": ("Conversion uplift", "转化提升", "pts"),
    "conversion_uplift_ci_low": ("Uplift 95% low", "提升下限", "pts"),
    "conversion_uplift_ci_high": ("Uplift 95% high", "提升上限", "pts"),
    "gate": ("Gate", "门禁", "text"),
    "shared_member_count": ("Shared members", "共有会员", "int"),
    "audience_member_count": ("Audience members", "人群会员", "int"),
    "other_audience_member_count": ("Other audience members", "对比人群会员", "int"),
    "jaccard_index": ("Jaccard index", "杰卡德指数", "dec"),
    "consent_scopes": ("Consent scopes", "同意范围", "text"),
    "active_adult_member_count": ("Active adult members", "活跃成年会员", "int"),
    "consenting_member_count": ("Consenting members", "已同意会员", "int"),
    "consent_coverage_rate": ("Consent coverage", "同意覆盖率", "pct"),
    # NPS and complaints
    "breakdown": ("Breakdown", "维度", "text"),
    "breakdown_value": ("Breakdown value", "维度值", "text"),
    "nps_response_count": ("NPS responses", "NPS样本量", "int"),
    "nps": ("NPS", "净推荐值", "score"),
    "nps_ci95_lower": ("NPS 95% low", "NPS下限", "score"),
    "nps_ci95_upper": ("NPS 95% high", "NPS上限", "score"),
    "csat_average": ("CSAT (1-5)", "满意度(1-5)", "dec"),
    "complaint_category": ("Complaint category", "投诉类别", "text"),
    "severity": ("Severity", "严重程度", "text"),
    "complaint_count": ("Complaints", "投诉数", "int"),
    "breached_count": ("SLA breaches", "超时数", "int"),
    "breach_rate": ("SLA breach rate", "超时率", "pct"),
    "resolution_breach_rate": ("Resolution breach rate", "解决超时率", "pct"),
    "follow_up_breach_rate": ("Follow-up breach rate", "回访超时率", "pct"),
    "escalated_count": ("Escalated", "升级处理", "int"),
    "compensation_amount": ("Compensation", "补偿金额", "cny"),
    # retail KPIs (marts/kpis) and shopper paths
    "average_order_value": ("Average order value", "客单价", "cny"),
    "items_per_receipt": ("Items per receipt", "连带率", "dec"),
    "repurchase_rate": ("Repurchase rate", "复购率", "pct"),
    "member_buyer_count": ("Members who bought", "购买会员数", "int"),
    "repeat_buyer_count": ("Members who bought twice+", "复购会员数", "int"),
    "sale_receipt_count": ("Sale receipts", "销售小票数", "int"),
    "units_sold": ("Units sold", "销售件数", "int"),
    "complaints_per_1000_receipts": ("Complaints per 1,000 receipts", "千单投诉率", "dec"),
    "points_redemption_rate": ("Points redemption rate", "积分兑换率", "pct"),
    "points_breakage_rate": ("Points breakage rate", "积分过期率", "pct"),
    "first_response_breach_rate": ("First response over 30 min", "首次响应超时率", "pct"),
    "net_revenue_per_sqm": ("Sales per m²", "坪效", "cny"),
    "area_sqm": ("Area (m²)", "面积(平方米)", "dec"),
    "store_category": ("Store category", "业态", "text"),
    "store_name": ("Store name", "门店名称", "text"),
    "from_zone_name": ("From zone", "出发区域", "text"),
    "to_zone_name": ("To zone", "到达区域", "text"),
    "transition_count": ("Moves", "移动次数", "int"),
    "path": ("Path", "动线", "text"),
    # experiments: multi-arm tests, CUPED, per-segment effects
    "treatment_arm_count": ("Treatment arms", "实验组数", "int"),
    "is_multi_arm": ("Multi-arm test", "多臂实验", "text"),
    "control_member_count": ("Control members", "对照组会员", "int"),
    "treatment_member_count": ("Treated members", "实验组会员", "int"),
    "revenue_uplift_per_member": ("Revenue uplift per member", "人均收入提升", "cny"),
    "conversion_p_value_holm": ("Conversion p (Holm)", "转化p值(Holm校正)", "p"),
    "conversion_p_value_bh": ("Conversion p (BH)", "转化p值(BH校正)", "p"),
    "is_conversion_significant_holm": ("Significant after Holm", "Holm校正后显著", "text"),
    "is_conversion_significant_bh": ("Significant after BH", "BH校正后显著", "text"),
    "revenue_p_value_holm": ("Revenue p (Holm)", "收入p值(Holm校正)", "p"),
    "revenue_p_value_bh": ("Revenue p (BH)", "收入p值(BH校正)", "p"),
    "is_revenue_significant_holm": ("Revenue significant after Holm", "收入Holm校正后显著", "text"),
    "comparison": ("Campaign and arm", "活动与分组", "text"),
    "best_arm": ("Best arm", "最优组", "text"),
    "is_best_arm": ("Is best arm", "是否最优组", "text"),
    "p_value_kind": ("p-value", "p值类型", "text"),
    "p_value": ("p-value", "p值", "p"),
    "estimate": ("Estimate", "估计方法", "text"),
    "pre_period_correlation": ("Pre-period correlation", "前期相关系数", "dec"),
    "revenue_uplift_ci_low": ("Revenue uplift 95% low", "收入提升下限", "cny"),
    "revenue_uplift_ci_high": ("Revenue uplift 95% high", "收入提升上限", "cny"),
    "cuped_revenue_uplift_per_member": ("CUPED revenue uplift per member", "CUPED人均收入提升", "cny"),
    "cuped_revenue_uplift_ci_low": ("CUPED uplift 95% low", "CUPED提升下限", "cny"),
    "cuped_revenue_uplift_ci_high": ("CUPED uplift 95% high", "CUPED提升上限", "cny"),
    "variance_reduction": ("Variance reduction", "方差缩减", "pct"),
    # uplift model's Qini curve (ml/uplift.py, mart_uplift_qini)
    "ranking": ("Targeting", "目标人群排序", "text"),
    "ranking_label": ("Ranked by", "排序依据", "text"),
    "targeted_share": ("Share of members targeted", "触达比例", "pct"),
    "incremental_conversions": ("Incremental conversions", "增量转化数", "dec"),
    "conversions_above_random": ("Conversions above random", "超出随机的增量转化", "dec"),
    "qini_coefficient": ("Qini coefficient", "Qini系数", "dec"),
    "random_qini_p95": ("Random Qini (95th pct)", "随机Qini(95分位)", "dec"),
    "holdout_member_count": ("Holdout assignments", "留出样本数", "int"),
    "holdout_campaign_count": ("Holdout campaigns", "留出活动数", "int"),
    "split_date": ("Test campaigns from", "测试活动起始", "date"),
    # online engagement and identity resolution (全渠道互动, 身份图谱)
    "digital_active_members": ("Digitally active members", "线上活跃会员", "int"),
    "digital_engaged_share": ("Share digitally active", "线上活跃占比", "pct"),
    "page_views": ("Page views", "页面浏览", "int"),
    "check_ins": ("Check-ins", "签到", "int"),
    "games_played": ("Games played", "互动游戏", "int"),
    "coupon_claims": ("Coupons claimed", "领券", "int"),
    "activity_signups": ("Activity sign-ups", "活动报名", "int"),
    "held_activity_signups": ("Sign-ups of held activities", "已举办活动报名", "int"),
    "activity_attendees": ("Attendees", "到场人数", "int"),
    "attendance_rate": ("Attendance rate", "到场率", "pct"),
    "anonymous_events": ("Anonymous events", "匿名行为", "int"),
    "attributed_anonymous_events": ("Attributed later", "事后归因", "int"),
    "anonymous_attribution_rate": ("Anonymous attribution rate", "匿名归因率", "pct"),
    "first_seen_date": ("First seen", "首次出现", "date"),
    "identifier_type": ("Identifier", "标识类型", "text"),
    "via_edge_types": ("Linked via", "关联方式", "text"),
    "identifier_count": ("Identifiers", "标识数", "int"),
    "record_merge_count": ("Member records merged", "合并会员档案", "int"),
    "average_hops": ("Average hops", "平均跳数", "dec"),
    "max_hops": ("Max hops", "最大跳数", "int"),
    "events": ("Events", "行为数", "int"),
    # service: follow-up satisfaction, complaint rates and root causes (nps page)
    "follow_up_scored_count": ("Follow-up scores", "回访评分数", "int"),
    "follow_up_satisfied_count": ("Satisfied at follow-up", "回访满意数", "int"),
    "avg_follow_up_satisfaction": ("Follow-up score (1-5)", "回访评分(1-5)", "dec"),
    "follow_up_satisfied_share": ("Satisfied at follow-up (4-5)", "回访满意度", "pct"),
    "root_cause": ("Root cause", "投诉根因", "text"),
    "root_cause_label": ("Root cause (中文)", "投诉根因(中文)", "text"),
    "group_complaint_count": ("Complaints in store category", "业态投诉数", "int"),
    "complaint_share": ("Share of complaints", "投诉占比", "pct"),
    "top_term_1": ("Top term", "高频词1", "text"),
    "top_term_2": ("2nd term", "高频词2", "text"),
    "top_term_3": ("3rd term", "高频词3", "text"),
}

# D3 formats plotly uses for axes and hover text, per kind
_D3 = {"int": ",.0f", "dec": ",.2f", "pct": ",.1%", "pts": "+,.1%", "cny": ",.0f", "score": ".1f", "p": ".3f"}


def _row(column: str) -> tuple[str, str, Kind]:
    try:
        return COLUMNS[column]
    except KeyError:
        raise KeyError(f"dashboard/labels.py: column {column!r} has no row in COLUMNS") from None


def label(column: str) -> str:
    """ "English 中文" of a column (axis title, legend title, table header)."""
    english, chinese, kind = _row(column)
    return f"{english} (CNY) {chinese}" if kind == "cny" else f"{english} {chinese}"


def kind(column: str) -> Kind:
    return _row(column)[2]


def labels(*columns: str) -> dict[str, str]:
    """The `labels=` argument of a plotly express chart over these columns."""
    return {c: label(c) for c in columns}


def format_value(column: str, value) -> str:
    """A card's text for one value of `column`: 23.4%, ¥1,234,567, 1,234, -12.5."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    try:
        value = float(value)
    except (TypeError, ValueError):
        return str(value)
    match kind(column):
        case "pct":
            return f"{value:.1%}"
        case "pts":
            return f"{value * 100:+.1f} pts"
        case "cny":
            return f"¥{value:,.0f}"
        case "score":
            return f"{value:.1f}"
        case "dec":
            return f"{value:,.2f}"
        case "p":
            return f"{value:.3f}"
        case _:
            return f"{value:,.0f}"


def format_change(column: str, current, previous) -> str:
    """The change of a card against the previous period: points for rates and scores,
    relative change for counts and amounts."""
    if kind(column) in ("text", "date"):
        return "—"
    if any(v is None or (isinstance(v, float) and math.isnan(v)) for v in (current, previous)):
        return "—"
    current, previous = float(current), float(previous)
    match kind(column):
        case "pct" | "pts":
            return f"{(current - previous) * 100:+.1f} pts"
        case "score":
            return f"{current - previous:+.1f}"
        case "dec" | "p":
            return f"{current - previous:+.2f}"
        case _:
            return f"{(current - previous) / abs(previous):+.1%}" if previous else "—"


def format_axis(figure: go.Figure, axis: str, column: str) -> None:
    """Title, tick and hover format of one axis ("x"/"y") for the values of `column`."""
    spec = {"title": {"text": label(column)}}
    d3 = _D3.get(kind(column))
    if d3:
        spec |= {"tickformat": d3.replace(",.1%", ",.0%").replace(".1f", ".0f"), "hoverformat": d3}
        if kind(column) == "cny":
            spec["tickprefix"] = "¥"
    figure.update_layout({f"{axis}axis": spec})


def table_column(column: str) -> dict:
    """A dash DataTable column: bilingual header, numbers formatted by kind."""
    spec = {"name": label(column), "id": column}
    formats = {
        "int": Format(precision=0, scheme=Scheme.fixed, group=Group.yes),
        "dec": Format(precision=2, scheme=Scheme.fixed, group=Group.yes),
        "pct": Format(precision=1, scheme=Scheme.percentage),
        "pts": Format(precision=1, scheme=Scheme.percentage, sign="+"),
        "cny": Format(precision=2, scheme=Scheme.fixed, group=Group.yes, symbol=Symbol.yes, symbol_prefix="¥"),
        "score": Format(precision=1, scheme=Scheme.fixed),
        "p": Format(precision=3, scheme=Scheme.fixed),
    }
    if kind(column) in formats:
        spec |= {"type": "numeric", "format": formats[kind(column)]}
    return spec
