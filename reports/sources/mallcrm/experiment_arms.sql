-- Multi-arm tests (多臂实验): one row per campaign and treatment arm against the control, raw and corrected p-values.
-- dashboard-filters: date=start_date
-- dashboard-ignores store: campaign data has no store (campaigns are mall-wide)
-- dashboard-ignores segment: the arms are compared over the whole audience (per-segment effects are pooled over arms)
select
    campaign_id,
    campaign_name,
    arm,
    start_date,
    treatment_arm_count,
    is_multi_arm,
    member_count,
    control_member_count,
    conversion_rate,
    control_conversion_rate,
    conversion_uplift,
    conversion_uplift_ci_low,
    conversion_uplift_ci_high,
    revenue_per_member,
    revenue_uplift_per_member,
    conversion_p_value,
    conversion_p_value_holm,
    conversion_p_value_bh,
    is_conversion_significant,
    is_conversion_significant_holm,
    is_conversion_significant_bh,
    revenue_p_value,
    revenue_p_value_holm,
    revenue_p_value_bh,
    is_revenue_significant_holm,
    best_arm,
    is_best_arm,
    has_sample_ratio_mismatch
from marts.mart_campaign_arm_comparisons
order by start_date, campaign_id, arm
