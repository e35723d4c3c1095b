-- Store conversion (进店转化率): sale receipts per visitor counted into the store's zone.
-- dashboard-filters: date=business_date, store=store_id
-- dashboard-ignores segment: door counters do not know a visitor's segment
select
    business_date,
    store_id,
    zone_id,
    visitor_count,
    transaction_count,
    net_revenue_amount,
    transactions_per_visitor
from marts.mart_traffic_conversion
where aggregation_level = 'store'
order by business_date, store_id
