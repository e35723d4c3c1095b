-- Behavioural segments from the K-means model (行为客群): members, churn risk and predicted value.
-- Members without a purchase in the model's window are 'not segmented'.
-- dashboard-filters: none
select
    coalesce(behaviour_segment, 'not segmented') as behaviour_segment,
    count(*) as member_count,
    avg(churn_probability) as avg_churn_probability,
    avg(predicted_clv) as avg_predicted_clv
from marts.mart_member_360
group by coalesce(behaviour_segment, 'not segmented')
order by member_count desc
