-- NPS by survey channel and month (分渠道NPS), with a 95% interval.
-- dashboard-filters: date=month_start_date
-- dashboard-ignores store: the NPS mart breaks channels down mall-wide, not per store
-- dashboard-ignores segment: channel NPS covers every respondent
select
    month_start_date,
    breakdown_value as channel,
    nps_response_count,
    nps,
    nps_ci95_lower,
    nps_ci95_upper,
    csat_average
from marts.mart_nps_monthly
where breakdown = 'channel'
order by month_start_date, channel
