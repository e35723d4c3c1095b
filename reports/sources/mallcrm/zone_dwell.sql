-- Dwell per zone and day (驻留时长): zone type, Wi-Fi devices, visits, average minutes per visit.
-- dashboard-filters: date=business_date
-- dashboard-ignores store: Wi-Fi dwell is measured per zone, which several stores share
-- dashboard-ignores segment: Wi-Fi devices are anonymous
select
    business_date,
    zone_name,
    zone_type,
    device_count,
    visit_count,
    dwell_minutes,
    avg_dwell_minutes_per_visit
from marts.mart_zone_dwell_daily
order by business_date, zone_name
