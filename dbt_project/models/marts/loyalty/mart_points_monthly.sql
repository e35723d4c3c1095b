{#-
    Loyalty points per month (to the month end; the current month to the as-of date):
    points earned, redeemed, expired, transferred and adjusted in the month, the
    outstanding balance of all members at the snapshot day and its liability in CNY
    at var `points_per_cny` (default 100 points = 1 CNY).
-#}
with

events as (

    select * from {{ ref('fct_points_events') }}

),

snapshots as (

    select * from {{ ref('int_member__snapshot_dates') }}

),

in_month as (

    select
        snapshots.snapshot_date,
        sum(case when events.entry_type = 'earn' then events.points else 0 end) as points_earned,
        sum(case when events.entry_type = 'redeem' then -events.points else 0 end) as points_redeemed,
        sum(case when events.entry_type = 'expire' then -events.points else 0 end) as points_expired,
        sum(case when events.entry_type = 'transfer_in' then events.points else 0 end) as points_transferred,
        sum(case when events.entry_type = 'adjust' then events.points else 0 end) as points_adjusted,
        sum(events.points) as net_points_change
    from snapshots
    inner join events
        on snapshots.snapshot_date >= events.business_date
        and (
            snapshots.previous_snapshot_date is null
            or snapshots.previous_snapshot_date < events.business_date
        )
    group by snapshots.snapshot_date

),

member_balances as (

    select
        snapshots.snapshot_date,
        events.member_id,
        sum(events.points) as points_balance
    from snapshots
    inner join events
        on snapshots.snapshot_date >= events.business_date
    group by snapshots.snapshot_date, events.member_id

),

outstanding as (

    select
        snapshot_date,
        sum(points_balance) as outstanding_points,
        sum(case when points_balance > 0 then 1 else 0 end) as members_with_points
    from member_balances
    group by snapshot_date

),

final as (

    select
        snapshots.snapshot_month,
        snapshots.snapshot_date,
        snapshots.is_current as is_current_month,
        cast(coalesce(in_month.points_earned, 0) as {{ dbt.type_bigint() }}) as points_earned,
        cast(coalesce(in_month.points_redeemed, 0) as {{ dbt.type_bigint() }}) as points_redeemed,
        cast(coalesce(in_month.points_expired, 0) as {{ dbt.type_bigint() }}) as points_expired,
        cast(coalesce(in_month.points_transferred, 0) as {{ dbt.type_bigint() }}) as points_transferred,
        cast(coalesce(in_month.points_adjusted, 0) as {{ dbt.type_bigint() }}) as points_adjusted,
        cast(coalesce(in_month.net_points_change, 0) as {{ dbt.type_bigint() }}) as net_points_change,
        cast(coalesce(outstanding.outstanding_points, 0) as {{ dbt.type_bigint() }}) as outstanding_points,
        {{ cast_amount('coalesce(outstanding.outstanding_points, 0) * 1.0 / ' ~ var('points_per_cny')) }}
            as outstanding_liability_amount,
        cast(coalesce(outstanding.members_with_points, 0) as {{ dbt.type_int() }}) as members_with_points
    from snapshots
    left join in_month
        on snapshots.snapshot_date = in_month.snapshot_date
    left join outstanding
        on snapshots.snapshot_date = outstanding.snapshot_date

)

select * from final
