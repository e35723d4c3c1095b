-- Audience runs (营销人群): one row per audience and run date: sizes, members excluded per gate, and the measured conversion uplift with its 95% interval.
-- dashboard-filters: date=run_date
-- dashboard-ignores store: audiences are chosen mall-wide, not per store
-- dashboard-ignores segment: audiences are defined by their own rules, not by RFM segment
select
    run_id,
    audience,
    audience_label,
    channel,
    purpose,
    run_date,
    campaign_id,
    status,
    holdout_share,
    candidate_count,
    eligible_count,
    treatment_count,
    control_count,
    excluded_consent_count,
    excluded_minor_count,
    excluded_erased_count,
    excluded_open_complaint_count,
    excluded_frequency_cap_count,
    check_violation_count,
    is_measured,
    campaign_start_date,
    campaign_end_date,
    treatment_conversion_rate,
    control_conversion_rate,
    conversion_uplift,
    conversion_uplift_ci_low,
    conversion_uplift_ci_high,
    conversion_p_value,
    is_conversion_significant,
    incremental_revenue_amount,
    has_sample_ratio_mismatch
from marts.mart_audience_runs
order by run_date, audience
