-- Points earned, redeemed, expired and the outstanding liability in CNY (积分负债).
-- dashboard-filters: date=snapshot_month
-- dashboard-ignores store: points are earned and redeemed mall-wide
-- dashboard-ignores segment: the liability covers every member
select
    snapshot_month,
    points_earned,
    points_redeemed,
    points_expired,
    outstanding_points,
    outstanding_liability_amount,
    members_with_points
from marts.mart_points_monthly
order by snapshot_month
