-- Redemption, points-plus-cash use, breakage and the breakage-aware points liability by month (积分负债).
-- dashboard-filters: date=snapshot_month
-- dashboard-ignores store: the points balance and its liability are mall-wide
-- dashboard-ignores segment: the liability covers every member
select
    snapshot_month,
    redemption_rate,
    points_plus_cash_receipts,
    points_plus_cash_share,
    points_plus_cash_points_amount,
    expected_breakage_rate,
    face_value_amount,
    liability_amount
from marts.mart_points_economics_monthly
order by snapshot_month
