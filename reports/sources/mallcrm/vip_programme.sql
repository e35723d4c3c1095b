-- The VIP programme by month against its targets, its cost and incremental revenue (VIP计划).
-- dashboard-filters: date=snapshot_month
-- dashboard-ignores store: VIP status is mall-wide spend
-- dashboard-ignores segment: the programme's targets are for all VIPs
select
    snapshot_month,
    vip_count,
    vip_count_growth,
    vip_count_growth_target,
    vip_repurchase_rate,
    vip_repurchase_growth,
    vip_repurchase_growth_target,
    vip_satisfaction_rate,
    vip_satisfaction_target,
    programme_cost_amount,
    new_vip_count,
    incremental_vip_revenue_amount
from marts.mart_vip_programme_monthly
order by snapshot_month
