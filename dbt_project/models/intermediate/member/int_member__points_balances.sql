{#-
    Points of every golden member on the as-of date: the balance (all movements up to
    that day) and the points due to expire within `points_expiry_horizon_days` (default
    30). Expiry is estimated first-in first-out: outgoing points (redeem, expire,
    transfer out, negative adjust) consume the earliest-expiring earned points first,
    so what is left of the points expiring by the horizon is
    max(0, earned points expiring by the horizon - all outgoing points), capped at the
    balance.
-#}
with

events as (

    select * from {{ ref('fct_points_events') }}

),

as_of as (

    select * from {{ ref('int_member__as_of_date') }}

),

totals as (

    select
        events.member_id,
        sum(events.points) as points_balance,
        sum(events.points_out) as points_consumed,
        sum(case
            when events.entry_type = 'earn'
                and events.expires_on <= {{ dbt.dateadd('day', var('points_expiry_horizon_days'), 'as_of.as_of_date') }}
                then events.points_in
            else 0
        end) as points_earned_expiring_by_horizon
    from events
    cross join as_of
    where events.business_date <= as_of.as_of_date
    group by events.member_id

),

final as (

    select
        member_id,
        cast(points_balance as {{ dbt.type_int() }}) as points_balance,
        cast(case
            when points_earned_expiring_by_horizon - points_consumed <= 0 then 0
            when points_earned_expiring_by_horizon - points_consumed > points_balance
                then case when points_balance > 0 then points_balance else 0 end
            else points_earned_expiring_by_horizon - points_consumed
        end as {{ dbt.type_int() }}) as points_expiring_soon
    from totals

)

select * from final
