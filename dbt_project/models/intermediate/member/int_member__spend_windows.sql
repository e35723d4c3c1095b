{#-
    Spend and visits of every golden member who has POS activity, over windows ending
    on the as-of date: net spend (refunds netted on their own date) and purchase days
    over the last 30, 90 and 365 days, sale receipts over 365 days, rolling 12-month
    spend and the VIP flag (rolling 12-month spend >= var `vip_threshold_cny`,
    default 5000 CNY). A window of N days is (as_of - N, as_of].
-#}
with

activity as (

    select * from {{ ref('int_member__daily_activity') }}

),

as_of as (

    select * from {{ ref('int_member__as_of_date') }}

),

{%- set windows = [30, 90, 365] %}

aggregated as (

    select
        activity.member_id,
        min(case when activity.is_purchase_day then activity.business_date end) as first_purchase_date,
        max(case when activity.is_purchase_day then activity.business_date end) as last_purchase_date,
        {%- for days in windows %}
        sum(case when activity.business_date > {{ dbt.dateadd('day', -days, 'as_of.as_of_date') }}
                then activity.net_spend_amount
            else 0
        end) as spend_{{ days }}d,
        sum(case when activity.business_date > {{ dbt.dateadd('day', -days, 'as_of.as_of_date') }}
                and activity.is_purchase_day then 1
            else 0
        end) as visits_{{ days }}d,
        {%- endfor %}
        sum(case when activity.business_date > {{ dbt.dateadd('day', -365, 'as_of.as_of_date') }}
                then activity.sale_orders
            else 0
        end) as orders_365d,
        sum(case when activity.business_date > {{ dbt.dateadd('month', -12, 'as_of.as_of_date') }}
                then activity.net_spend_amount
            else 0
        end) as rolling_12m_spend,
        sum(activity.net_spend_amount) as lifetime_spend,
        sum(activity.sale_orders) as lifetime_orders
    from activity
    cross join as_of
    where activity.business_date <= as_of.as_of_date
    group by activity.member_id

),

final as (

    select
        member_id,
        first_purchase_date,
        last_purchase_date,
        {%- for days in windows %}
        {{ cast_amount('spend_' ~ days ~ 'd') }} as spend_{{ days }}d,
        cast(visits_{{ days }}d as {{ dbt.type_int() }}) as visits_{{ days }}d,
        {%- endfor %}
        cast(orders_365d as {{ dbt.type_int() }}) as orders_365d,
        case when orders_365d > 0 then {{ cast_amount('spend_365d / orders_365d') }} end as average_order_value_365d,
        {{ cast_amount('rolling_12m_spend') }} as rolling_12m_spend,
        {{ loyalty_is_vip('rolling_12m_spend') }} as is_vip,
        {{ cast_amount('lifetime_spend') }} as lifetime_spend,
        cast(lifetime_orders as {{ dbt.type_int() }}) as lifetime_orders
    from aggregated

)

select * from final
