-- Tier distribution, upgrades and downgrades by month (会员等级).
-- dashboard-filters: date=snapshot_month
select
    snapshot_month,
    tier,
    tier_rank,
    member_count,
    member_share,
    upgrades_in,
    downgrades_in
from marts.mart_loyalty_tiers_monthly
order by snapshot_month, tier_rank
