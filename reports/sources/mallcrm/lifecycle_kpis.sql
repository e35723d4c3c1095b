-- Member lifecycle KPIs by month (会员生命周期): conversion, reactivation, retention.
-- dashboard-filters: date=snapshot_month
-- dashboard-ignores store: a member's lifecycle stage is mall-wide (members shop in many stores)
-- dashboard-ignores segment: the KPIs count every member, across RFM segments
select
    snapshot_month,
    new_customer_conversion_rate,
    dormant_reactivation_rate,
    high_value_retention_rate,
    new_customers_converted,
    new_customer_base,
    dormant_reactivated,
    dormant_base,
    high_value_retained,
    high_value_base
from marts.mart_lifecycle_kpis_monthly
order by snapshot_month
