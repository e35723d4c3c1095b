-- Campaign ROI board (营销活动ROI): one row per campaign and arm; effect columns on treatment rows.
-- dashboard-filters: date=start_date
-- dashboard-ignores store: campaign data has no store (campaigns are mall-wide)
-- dashboard-ignores segment: campaign arms are not split by RFM segment
select
    campaign_id,
    campaign_name,
    campaign_channel,
    arm,
    start_date,
    end_date,
    member_count,
    conversion_rate,
    revenue_per_member,
    incremental_revenue_amount,
    incremental_margin_amount,
    cost_amount,
    roi,
    cac_amount,
    coupon_redemption_rate,
    conversion_p_value,
    revenue_p_value,
    is_conversion_significant,
    is_revenue_significant,
    has_sample_ratio_mismatch
from marts.mart_campaign_roi
order by start_date, campaign_id, arm desc
