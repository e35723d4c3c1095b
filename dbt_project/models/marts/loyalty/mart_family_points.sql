{#-
    Family points pools on the as-of date: one row per family group, the members'
    balances pooled (members may transfer points to each other within the family),
    the pool's CNY liability and the points expiring within 30 days.
-#}
with

members as (

    select * from {{ ref('dim_member') }}
    where family_group_id is not null

),

points as (

    select * from {{ ref('int_member__points_balances') }}

),

events as (

    select * from {{ ref('fct_points_events') }}
    where entry_type in ('transfer_in', 'transfer_out')

),

as_of as (

    select * from {{ ref('int_member__as_of_date') }}

),

transfers as (

    select
        events.family_group_id,
        sum(case when events.entry_type = 'transfer_in' then events.points else 0 end) as points_transferred,
        max(events.business_date) as last_transfer_date
    from events
    cross join as_of
    where events.business_date <= as_of.as_of_date
    group by events.family_group_id

),

pooled as (

    select
        members.family_group_id,
        count(*) as member_count,
        sum(case when members.is_active then 1 else 0 end) as active_member_count,
        sum(coalesce(points.points_balance, 0)) as pool_points_balance,
        sum(coalesce(points.points_expiring_soon, 0)) as pool_points_expiring_30d
    from members
    left join points
        on members.member_id = points.member_id
    group by members.family_group_id

),

final as (

    select
        pooled.family_group_id,
        as_of.as_of_date,
        cast(pooled.member_count as {{ dbt.type_int() }}) as member_count,
        cast(pooled.active_member_count as {{ dbt.type_int() }}) as active_member_count,
        cast(pooled.pool_points_balance as {{ dbt.type_bigint() }}) as pool_points_balance,
        {{ cast_amount('pooled.pool_points_balance * 1.0 / ' ~ var('points_per_cny')) }} as pool_liability_amount,
        cast(pooled.pool_points_expiring_30d as {{ dbt.type_bigint() }}) as pool_points_expiring_30d,
        cast(coalesce(transfers.points_transferred, 0) as {{ dbt.type_bigint() }}) as points_transferred_to_date,
        transfers.last_transfer_date
    from pooled
    cross join as_of
    left join transfers
        on pooled.family_group_id = transfers.family_group_id

)

select * from final
