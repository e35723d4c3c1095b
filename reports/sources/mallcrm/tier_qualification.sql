-- Members per tier against the tier rules on the as-of date: near an upgrade, at risk of a downgrade (会员升降级).
-- dashboard-filters: none
-- dashboard-ignores date: tier qualification is computed as of the latest day
-- dashboard-ignores store: tiers are mall-wide memberships
-- dashboard-ignores segment: the rules apply to every member alike
select
    tier,
    tier_rank,
    count(*) as member_count,
    sum(case when is_near_upgrade then 1 else 0 end) as near_upgrade_count,
    sum(case when is_at_risk_of_downgrade then 1 else 0 end) as downgrade_risk_count,
    sum(case when is_tier_above_rules then 1 else 0 end) as above_rules_count,
    sum(gap_to_next_tier_amount) / count(*) as avg_gap_to_next_tier_amount
from marts.mart_tier_qualification
group by tier, tier_rank
order by tier_rank
