-- Foot-traffic heat map (客流热力图): average people entering per day, zone x local hour.
-- dashboard-filters: none
select
    zone_name,
    hour_of_day,
    sum(people_in) as people_in,
    sum(avg_people_in_per_day) as avg_people_in_per_day
from marts.mart_traffic_heatmap
group by zone_name, hour_of_day
order by zone_name, hour_of_day
