-- NPS and CSAT by month (净推荐值) for the mall, each store and each channel, with a 95% interval.
-- dashboard-filters: date=month_start_date, store=breakdown_value
select
    month_start_date,
    breakdown,
    breakdown_value,
    nps_response_count,
    nps,
    nps_ci95_lower,
    nps_ci95_upper,
    csat_average
from marts.mart_nps_monthly
order by month_start_date, breakdown, breakdown_value
