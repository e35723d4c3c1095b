-- ML scores by lifecycle stage (流失风险与预测价值): members, scored members, churn probability
-- and predicted lifetime value (CNY) totals - aggregates only, no member rows - per RFM segment
-- and favourite store (the store a member spends most in), so both filters apply; the
-- dashboard sums the rows it keeps and divides for the means.
-- dashboard-filters: segment=rfm_segment, store=favourite_store_id
-- dashboard-ignores date: the scores are the latest ML scoring run's
select
    lifecycle_stage,
    rfm_segment,
    favourite_store_id,
    count(*) as member_count,
    count(churn_probability) as scored_member_count,
    sum(churn_probability) as churn_probability_total,
    sum(predicted_clv) as predicted_clv_amount
from marts.mart_member_360
group by lifecycle_stage, rfm_segment, favourite_store_id
order by lifecycle_stage
