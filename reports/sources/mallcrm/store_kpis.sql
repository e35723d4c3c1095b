-- Retail KPIs per store and month (门店经营月报): sales per square metre (坪效) for tenant
-- mix, average order value, items per receipt, complaints per 1,000 receipts.
-- dashboard-filters: date=month_start_date, store=store_id
-- dashboard-ignores segment: a store's receipts are not split by member segment
select
    kpis.month_start_date,
    kpis.store_id,
    stores.store_name,
    kpis.store_category,
    kpis.area_sqm,
    kpis.net_revenue_amount,
    kpis.sale_receipt_count,
    kpis.units_sold,
    kpis.average_order_value,
    kpis.items_per_receipt,
    kpis.net_revenue_per_sqm,
    kpis.complaint_count,
    kpis.complaints_per_1000_receipts
from marts.mart_store_kpis_monthly as kpis
left join marts.dim_store as stores on kpis.store_id = stores.store_id
order by kpis.month_start_date, kpis.store_id
