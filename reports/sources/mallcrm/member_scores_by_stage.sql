-- ML scores by lifecycle stage (流失风险与预测价值): members, scored members, mean churn
-- probability and total predicted lifetime value (CNY) - aggregates only, no member rows.
-- dashboard-filters: none
select
    lifecycle_stage,
    count(*) as member_count,
    count(churn_probability) as scored_member_count,
    avg(churn_probability) as avg_churn_probability,
    sum(predicted_clv) as predicted_clv_amount
from marts.mart_member_360
group by lifecycle_stage
order by lifecycle_stage
