-- NPS by customer segment (分客群NPS): RFM segment, lifecycle stage and tier.
-- dashboard-filters: date=month_start_date, segment=segment_value
-- dashboard-ignores store: the segment NPS mart is mall-wide
select
    month_start_date,
    segment_type,
    segment_value,
    nps_response_count,
    nps,
    nps_ci95_lower,
    nps_ci95_upper
from marts.mart_nps_monthly_by_segment
order by month_start_date, segment_type, segment_value
