-- Tier distribution, upgrades and downgrades by month (会员等级).
-- dashboard-filters: date=snapshot_month
-- dashboard-ignores store: tiers are mall-wide memberships
-- dashboard-ignores segment: tier counts cover every member, across RFM segments
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
