-- Behavioural segments from the K-means model (行为客群): members, churn risk and predicted value,
-- per RFM segment and favourite store (the store a member spends most in), so both filters apply;
-- the dashboard sums the rows it keeps. Members without a purchase in the model's window are
-- 'not segmented'. Totals, not means, so any subset of rows still gives the right mean.
-- dashboard-filters: segment=rfm_segment, store=favourite_store_id
-- dashboard-ignores date: the K-means model assigns each member once, on the latest data
select
    coalesce(behaviour_segment, 'not segmented') as behaviour_segment,
    rfm_segment,
    favourite_store_id,
    count(*) as member_count,
    count(churn_probability) as scored_member_count,
    sum(churn_probability) as churn_probability_total,
    sum(predicted_clv) as predicted_clv_total
from marts.mart_member_360
group by coalesce(behaviour_segment, 'not segmented'), rfm_segment, favourite_store_id
order by member_count desc
