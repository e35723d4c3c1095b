-- Shopper paths between zones (客流动线): devices moving from one zone straight to the next.
-- dashboard-filters: date=business_date
-- dashboard-ignores store: paths run between zones, across stores
-- dashboard-ignores segment: Wi-Fi devices are not linked to members
select
    business_date,
    from_zone_name,
    to_zone_name,
    transition_count,
    device_count
from marts.mart_zone_transitions_daily
