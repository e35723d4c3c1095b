{{
    config(
        on_schema_change='fail',
        **incremental_by_day('business_date')
    )
}}
{#-
    Traffic conversion: sale receipts per visitor, by day, at two levels.
    One row per (business_date, aggregation_level, zone_id, store_id):
      - aggregation_level 'zone': a zone's visitors (people counted in by its counters)
        and the sale receipts of all its stores; store_id = '(all)';
      - aggregation_level 'store': one store's sale receipts over its zone's visitors.
    Filter on one level at a time. Zones without counters have NULL visitors.
    Incremental by day: a run rebuilds the days of the counts and receipts loaded since
    the newest load it holds (lookback included), and every day when the stores
    reference changed (macro business_days_to_rebuild).
-#}
-- depends_on: {{ ref('msk_reference__stores') }}
{%- set inputs = [ref('fct_foot_traffic_intervals'), ref('msk_pos__transactions')] %}

with

{%- if is_incremental() %}

days_to_rebuild as (

    {{ business_days_to_rebuild(inputs, references=[ref('msk_reference__stores')]) }}

),

{%- endif %}

intervals as (

    select * from {{ ref('fct_foot_traffic_intervals') }}
    {%- if is_incremental() %}
    where business_date in (select days_to_rebuild.business_date from days_to_rebuild)
    {%- endif %}

),

transactions as (

    select * from {{ ref('msk_pos__transactions') }}
    {%- if is_incremental() %}
    where business_date in (select days_to_rebuild.business_date from days_to_rebuild)
    {%- endif %}

),

stores as (

    select * from {{ ref('msk_reference__stores') }}

),

zone_visitors as (

    select
        zone_id,
        business_date,
        sum(people_in) as visitor_count,
        max(_loaded_at) as _loaded_at
    from intervals
    group by zone_id, business_date

),

store_sales as (

    select
        transactions.store_id,
        stores.zone_id,
        transactions.business_date,
        count(*) as transaction_count,
        sum(transactions.gross_amount - transactions.discount_amount) as net_revenue_amount,
        max(transactions._loaded_at) as _loaded_at

    from transactions
    inner join stores on transactions.store_id = stores.store_id
    where not transactions.is_refund
    group by transactions.store_id, stores.zone_id, transactions.business_date

),

store_level as (

    select
        'store' as aggregation_level,
        store_sales.zone_id,
        store_sales.store_id,
        store_sales.business_date,
        zone_visitors.visitor_count,
        store_sales.transaction_count,
        store_sales.net_revenue_amount,
        {{ later_of('store_sales._loaded_at', 'zone_visitors._loaded_at') }} as _loaded_at

    from store_sales
    left join zone_visitors
        on store_sales.zone_id = zone_visitors.zone_id
        and store_sales.business_date = zone_visitors.business_date

),

zone_sales as (

    select
        zone_id,
        business_date,
        sum(transaction_count) as transaction_count,
        sum(net_revenue_amount) as net_revenue_amount,
        max(_loaded_at) as _loaded_at
    from store_sales
    group by zone_id, business_date

),

zone_level as (

    select
        'zone' as aggregation_level,
        coalesce(zone_visitors.zone_id, zone_sales.zone_id) as zone_id,
        '(all)' as store_id,
        coalesce(zone_visitors.business_date, zone_sales.business_date) as business_date,
        zone_visitors.visitor_count,
        coalesce(zone_sales.transaction_count, 0) as transaction_count,
        coalesce(zone_sales.net_revenue_amount, 0) as net_revenue_amount,
        {{ later_of('zone_visitors._loaded_at', 'zone_sales._loaded_at') }} as _loaded_at

    from zone_visitors
    full outer join zone_sales
        on zone_visitors.zone_id = zone_sales.zone_id
        and zone_visitors.business_date = zone_sales.business_date

),

unioned as (

    select * from zone_level
    union all
    select * from store_level

),

final as (

    select
        {{ surrogate_key(['business_date', 'aggregation_level', 'zone_id', 'store_id']) }}
            as traffic_conversion_id,
        business_date,
        cast(aggregation_level as {{ dbt.type_string() }}) as aggregation_level,
        zone_id,
        cast(store_id as {{ dbt.type_string() }}) as store_id,
        cast(visitor_count as {{ dbt.type_bigint() }}) as visitor_count,
        cast(transaction_count as {{ dbt.type_bigint() }}) as transaction_count,
        {{ cast_amount('net_revenue_amount') }} as net_revenue_amount,
        cast(
            cast(transaction_count as {{ double_type() }}) / nullif(visitor_count, 0)
            as {{ double_type() }}
        ) as transactions_per_visitor,
        _loaded_at

    from unioned

)

select * from final
