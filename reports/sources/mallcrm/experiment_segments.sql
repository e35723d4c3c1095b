-- Campaign effects per RFM segment (分客群活动效果): conversion uplift with its 95% interval, treatment arms pooled.
-- dashboard-filters: date=start_date, segment=rfm_segment
-- dashboard-ignores store: campaign data has no store (campaigns are mall-wide)
select
    effects.campaign_id,
    campaigns.campaign_name,
    campaigns.start_date,
    effects.rfm_segment,
    effects.treatment_member_count,
    effects.control_member_count,
    effects.treatment_conversion_rate,
    effects.control_conversion_rate,
    effects.conversion_uplift,
    effects.conversion_uplift_ci_low,
    effects.conversion_uplift_ci_high,
    effects.revenue_uplift_per_member
from marts.mart_campaign_segment_effects as effects
inner join marts.mart_campaign_roi as campaigns
    on effects.campaign_id = campaigns.campaign_id and campaigns.arm = 'control'
order by campaigns.start_date, effects.campaign_id, effects.rfm_segment
