-- The mall's retail KPIs by month (商场经营月报): average order value (客单价), items per
-- receipt (连带率), repurchase rate (复购率), complaints per 1,000 receipts (投诉率), points
-- redemption (积分兑换率) and breakage.
-- dashboard-filters: date=month_start_date
-- dashboard-ignores store: mall-wide totals; per store in store_kpis
-- dashboard-ignores segment: every member's receipts count
select
    month_start_date,
    net_revenue_amount,
    sale_receipt_count,
    average_order_value,
    items_per_receipt,
    member_buyer_count,
    repeat_buyer_count,
    repurchase_rate,
    complaint_count,
    complaints_per_1000_receipts,
    points_earned,
    points_redeemed,
    points_expired,
    points_redemption_rate,
    points_breakage_rate
from marts.mart_mall_kpis_monthly
order by month_start_date
