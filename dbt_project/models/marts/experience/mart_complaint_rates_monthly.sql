{#-
    Complaint rate (投诉率) per store, month and complaint category: complaints opened
    per 1,000 sale receipts, with the follow-up satisfaction (回访满意度) of those
    complaints. The receipts are mart_store_kpis_monthly's sale_receipt_count (counted
    once, there); every store-month of that mart gets a row for every complaint category
    seen at a store, so a category without complaints shows 0. Complaints about no store
    (parking, facilities) are not here: they have no receipts to divide by
    (mart_complaint_sla has them).
-#}

with

store_months as (

    select * from {{ ref('mart_store_kpis_monthly') }}

),

complaints as (

    select * from {{ ref('fct_complaints') }}
    where store_id is not null

),

categories as (

    select distinct complaint_category from complaints

),

complaints_by_category as (

    select
        store_id,
        month_start_date,
        complaint_category,
        count(*) as complaint_count,
        {{ follow_up_satisfaction_measures() }}
    from complaints
    group by store_id, month_start_date, complaint_category

),

final as (

    select
        {{ surrogate_key(['store_months.store_id', 'store_months.month_start_date', 'categories.complaint_category']) }}
            as complaint_rate_id,
        store_months.store_id,
        store_months.month_start_date,
        store_months.store_category,
        categories.complaint_category,
        store_months.sale_receipt_count,
        cast(coalesce(complaints_by_category.complaint_count, 0) as {{ dbt.type_bigint() }}) as complaint_count,
        cast(1000 * coalesce(complaints_by_category.complaint_count, 0) as {{ double_type() }})
        / nullif(store_months.sale_receipt_count, 0) as complaints_per_1000_receipts,
        cast(coalesce(complaints_by_category.follow_up_scored_count, 0) as {{ dbt.type_int() }})
            as follow_up_scored_count,
        cast(coalesce(complaints_by_category.follow_up_satisfied_count, 0) as {{ dbt.type_int() }})
            as follow_up_satisfied_count,
        complaints_by_category.avg_follow_up_satisfaction,
        complaints_by_category.follow_up_satisfied_share

    from store_months
    cross join categories
    left join complaints_by_category
        on store_months.store_id = complaints_by_category.store_id
        and store_months.month_start_date = complaints_by_category.month_start_date
        and categories.complaint_category = complaints_by_category.complaint_category

)

select * from final
