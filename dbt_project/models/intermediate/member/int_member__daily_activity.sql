{{
    config(
        materialized=incremental_materialization(),
        incremental_strategy='delete+insert',
        unique_key='member_id',
        on_schema_change='fail',
    )
}}
{#-
    One row per golden member and business day with POS activity: sale receipts,
    refund receipts and net spend (a refund reduces spend on the refund's own date).
    A purchase day is a day with at least one sale receipt; each carries the days
    since the member's previous purchase day (the inter-purchase time).

    Incremental by member: a run recomputes all days of the members touched since the
    last run and replaces their rows (delete+insert on member_id), so the lag over a
    member's purchase days stays exact. Touched = a receipt loaded within the facts'
    lookback (var incremental_lookback_days), or receipt count / net spend in
    fct_transactions no longer matching this table (a receipt that resolved to its member
    late, a correction). Everyone else's rows are left as they are.
-#}
with

{%- if is_incremental() %}

lookback_members as (

    select distinct member_id
    from {{ ref('fct_transactions') }}
    where member_id is not null
        and _loaded_at >= (
            select {{ dbt.dateadd('day', -1 * var('incremental_lookback_days'), 'max(_loaded_at)') }}
            from {{ ref('fct_transactions') }}
        )

),

fact_totals as (

    select
        member_id,
        count(*) as receipts,
        sum(net_revenue_amount) as net_spend_amount
    from {{ ref('fct_transactions') }}
    where member_id is not null
    group by member_id

),

stored_totals as (

    select
        member_id,
        sum(sale_orders + refund_receipts) as receipts,
        sum(net_spend_amount) as net_spend_amount
    from {{ this }}
    group by member_id

),

changed_members as (

    select coalesce(fact_totals.member_id, stored_totals.member_id) as member_id
    from fact_totals
    full outer join stored_totals
        on fact_totals.member_id = stored_totals.member_id
    where fact_totals.member_id is null
        or stored_totals.member_id is null
        or fact_totals.receipts <> stored_totals.receipts
        or {{ cast_amount('fact_totals.net_spend_amount') }} <> {{ cast_amount('stored_totals.net_spend_amount') }}

),

touched_members as (

    select member_id from lookback_members
    union
    select member_id from changed_members

),

{%- endif %}

transactions as (

    select * from {{ ref('fct_transactions') }}
    where member_id is not null
    {%- if is_incremental() %}
        and member_id in (select touched_members.member_id from touched_members)
    {%- endif %}

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
        cast(
            {{ dbt.datediff('purchase_days.previous_purchase_date', 'daily.business_date', 'day') }}
            as {{ dbt.type_int() }}
        ) as days_since_previous_purchase
    from daily
    left join purchase_days
        on daily.member_id = purchase_days.member_id
        and daily.business_date = purchase_days.business_date

)

select * from final
