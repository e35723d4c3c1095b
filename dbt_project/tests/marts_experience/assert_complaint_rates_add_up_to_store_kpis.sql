-- Per store and month, the complaint categories of mart_complaint_rates_monthly add up to
-- mart_store_kpis_monthly's complaints, and carry its receipts.
with

rates as (

    select
        store_id,
        month_start_date,
        sum(complaint_count) as complaint_count,
        min(sale_receipt_count) as min_receipts,
        max(sale_receipt_count) as max_receipts
    from {{ ref('mart_complaint_rates_monthly') }}
    group by store_id, month_start_date

),

store_kpis as (

    select * from {{ ref('mart_store_kpis_monthly') }}

)

select
    store_kpis.store_id,
    store_kpis.month_start_date,
    store_kpis.complaint_count as store_complaints,
    rates.complaint_count as category_complaints
from store_kpis
left join rates
    on store_kpis.store_id = rates.store_id
    and store_kpis.month_start_date = rates.month_start_date
where
    coalesce(rates.complaint_count, 0) <> store_kpis.complaint_count
    or rates.min_receipts <> store_kpis.sale_receipt_count
    or rates.max_receipts <> store_kpis.sale_receipt_count
