-- Points earned per month by earn source, with the festival multipliers' bonus (积分来源).
-- dashboard-filters: date=snapshot_month
-- dashboard-ignores store: check-ins, games and reviews are not tied to a store
-- dashboard-ignores segment: the sources cover every member
select
    snapshot_month,
    earn_source,
    earning_member_count,
    points_earned,
    bonus_points,
    points_share
from marts.mart_points_earn_sources_monthly
order by snapshot_month, earn_source
