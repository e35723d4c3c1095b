-- CUPED per campaign (CUPED方差缩减): revenue uplift per member, plain and CUPED-adjusted, with 95% intervals.
-- dashboard-filters: date=start_date
-- dashboard-ignores store: campaign data has no store (campaigns are mall-wide)
-- dashboard-ignores segment: CUPED compares the whole audience of a campaign
select
    cuped.campaign_id,
    campaigns.campaign_name,
    campaigns.start_date,
    cuped.treatment_member_count,
    cuped.control_member_count,
    cuped.pre_period_correlation,
    cuped.revenue_uplift_per_member,
    cuped.revenue_uplift_ci_low,
    cuped.revenue_uplift_ci_high,
    cuped.cuped_revenue_uplift_per_member,
    cuped.cuped_revenue_uplift_ci_low,
    cuped.cuped_revenue_uplift_ci_high,
    cuped.variance_reduction
from marts.mart_campaign_cuped as cuped
inner join marts.mart_campaign_roi as campaigns
    on cuped.campaign_id = campaigns.campaign_id and campaigns.arm = 'control'
order by campaigns.start_date, cuped.campaign_id
