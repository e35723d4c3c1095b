{#-
    One row per golden member and business day with POS activity: sale receipts,
    refund receipts and net spend (a refund reduces spend on the refund's own date).
    A purchase day is a day with at least one sale receipt; each carries the days
    since the member's previous purchase day (the inter-purchase time).
-#}
with

transactions as (

    select * from {{ ref('fct_transactions') }}
    where member_id is not null

),

daily as (

    select
        member_id,
        business_date,
        sum(case when is_refund then 0 else 1 end) as sale_orders,
        sum(case when is_refund then 1 else 0 end) as refund_receipts,
        sum(net_revenue_amount) as net_spend_amount,
        sum(margin_amount) as margin_amount
    from transactions
    group by member_id, business_date

),

purchase_days as (

    select
        member_id,
        business_date,
        lag(business_date) over (partition by member_id order by business_date) as previous_purchase_date
    from daily
    where sale_orders > 0

),

final as (

    select
        {{ surrogate_key(['daily.member_id', 'daily.business_date']) }} as member_day_id,
        daily.member_id,
        daily.business_date,
        cast(daily.sale_orders as {{ dbt.type_int() }}) as sale_orders,
        cast(daily.refund_receipts as {{ dbt.type_int() }}) as refund_receipts,
        daily.sale_orders > 0 as is_purchase_day,
        {{ cast_amount('daily.net_spend_amount') }} as net_spend_amount,
        {{ cast_amount('daily.margin_amount') }} as margin_amount,
        purchase_days.previous_purchase_date,
        cast({{ dbt.datediff('purchase_days.previous_purchase_date', 'daily.business_date', 'day') }} as {{ dbt.type_int() }}) as days_since_previous_purchase
    from daily
    left join purchase_days
        on daily.member_id = purchase_days.member_id
        and daily.business_date = purchase_days.business_date

)

select * from final
