-- Family points pools on the as-of date by family size: pooled balance, liability, expiring points (家庭积分).
-- dashboard-filters: none
-- dashboard-ignores date: the pools are balances as of the latest day
-- dashboard-ignores store: points pools are mall-wide
-- dashboard-ignores segment: a family's members may sit in several segments
select
    member_count as family_size,
    count(*) as family_count,
    sum(pool_points_balance) as pool_points_balance,
    sum(pool_liability_amount) as pool_liability_amount,
    sum(pool_points_expiring_30d) as pool_points_expiring_30d,
    sum(points_transferred_to_date) as points_transferred_to_date
from marts.mart_family_points
group by member_count
order by member_count
