-- NPS and CSAT by month (净推荐值) for the mall and each store, with a 95% interval (channels: nps_channels.sql).
-- dashboard-filters: date=month_start_date, store=breakdown_value
-- dashboard-ignores segment: mall and store NPS cover every respondent
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
where breakdown in ('mall', 'store')
order by month_start_date, breakdown, breakdown_value
