-- Foot-traffic heat map (客流热力图): people entering per zone, local hour and day, from the
-- people counters; the dashboard averages the selected days per zone x hour.
-- dashboard-filters: date=business_date
-- dashboard-ignores store: people counters measure zones, which several stores share
-- dashboard-ignores segment: door counters count people, not members of a segment
select
    business_date,
    zone_name,
    hour_of_day,
    sum(people_in) as people_in
from marts.fct_foot_traffic_intervals
group by business_date, zone_name, hour_of_day
order by business_date, zone_name, hour_of_day
