{#-
    Retail KPIs per store and month, for tenant mix and service: net revenue, sale
    receipts, average order value (客单价) = net revenue / sale receipts, items per
    receipt (连带率) = units / sale receipts, sales per square metre (坪效) = net revenue /
    the store's area_sqm, and complaints opened per 1,000 sale receipts (投诉率). The
    store's category comes with each row, so category figures are sums of these (ratios
    recomputed from the sums, never averaged).
-#}

with

transactions as (

    select * from {{ ref('fct_transactions') }}

),

complaints as (

    select * from {{ ref('fct_complaints') }}

),

stores as (

    select * from {{ ref('dim_store') }}

),

sales as (

    select
        store_id,
        cast({{ dbt.date_trunc('month', 'business_date') }} as date) as month_start_date,
        sum(net_revenue_amount) as net_revenue_amount,
        sum(case when is_refund then 0 else 1 end) as sale_receipt_count,
        sum(units) as units_sold
    from transactions
    where store_id is not null
    group by store_id, cast({{ dbt.date_trunc('month', 'business_date') }} as date)

),

complaints_opened as (

    select
        store_id,
        cast({{ dbt.date_trunc('month', 'business_date') }} as date) as month_start_date,
        count(*) as complaint_count
    from complaints
    where store_id is not null
    group by store_id, cast({{ dbt.date_trunc('month', 'business_date') }} as date)

),

store_months as (

    select
        store_id,
        month_start_date
    from sales
    union
    select
        store_id,
        month_start_date
    from complaints_opened

),

final as (

    select
        store_months.store_id,
        store_months.month_start_date,
        stores.store_category,
        stores.area_sqm,
        {{ cast_amount('coalesce(sales.net_revenue_amount, 0)') }} as net_revenue_amount,
        cast(coalesce(sales.sale_receipt_count, 0) as {{ dbt.type_bigint() }}) as sale_receipt_count,
        cast(coalesce(sales.units_sold, 0) as {{ dbt.type_bigint() }}) as units_sold,
        cast(coalesce(complaints_opened.complaint_count, 0) as {{ dbt.type_bigint() }}) as complaint_count,
        cast(sales.net_revenue_amount as {{ double_type() }})
        / nullif(sales.sale_receipt_count, 0) as average_order_value,
        cast(sales.units_sold as {{ double_type() }})
        / nullif(sales.sale_receipt_count, 0) as items_per_receipt,
        cast(sales.net_revenue_amount as {{ double_type() }})
        / nullif(stores.area_sqm, 0) as net_revenue_per_sqm,
        cast(1000 * coalesce(complaints_opened.complaint_count, 0) as {{ double_type() }})
        / nullif(sales.sale_receipt_count, 0) as complaints_per_1000_receipts

    from store_months
    left join sales
        on store_months.store_id = sales.store_id
        and store_months.month_start_date = sales.month_start_date
    left join complaints_opened
        on store_months.store_id = complaints_opened.store_id
        and store_months.month_start_date = complaints_opened.month_start_date
    left join stores on store_months.store_id = stores.store_id

)

select * from final
