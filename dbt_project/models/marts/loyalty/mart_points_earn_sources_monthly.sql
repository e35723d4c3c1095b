{#-
    Points by earn source (积分来源) per month (to the month end; the current month to the
    as-of date): purchase, check_in, game, review, birthday and goodwill, the points the
    festival multipliers added (bonus_points) and each source's share of the month's new
    points. Earn entries exported before the ledger named their source count as 'unknown'.
-#}
with

events as (

    select * from {{ ref('fct_points_events') }}
    where entry_type = 'earn' or earn_source is not null

),

snapshots as (

    select * from {{ ref('int_member__snapshot_dates') }}

),

sourced as (

    select
        member_id,
        business_date,
        coalesce(earn_source, 'unknown') as earn_source,
        points,
        coalesce(bonus_points, 0) as bonus_points,
        case when multiplier > 1 then 1 else 0 end as is_multiplied,
        points_value_amount
    from events

),

sources as (

    select distinct earn_source
    from sourced

),

in_month as (

    select
        snapshots.snapshot_date,
        sourced.earn_source,
        count(*) as entry_count,
        count(distinct sourced.member_id) as earning_member_count,
        sum(sourced.points) as points_earned,
        sum(sourced.bonus_points) as bonus_points,
        sum(sourced.is_multiplied) as multiplied_entry_count,
        sum(sourced.points_value_amount) as points_value_amount
    from snapshots
    inner join sourced
        on snapshots.snapshot_date >= sourced.business_date
        and (
            snapshots.previous_snapshot_date is null
            or snapshots.previous_snapshot_date < sourced.business_date
        )
    group by snapshots.snapshot_date, sourced.earn_source

),

grid as (

    select
        snapshots.snapshot_month,
        snapshots.snapshot_date,
        snapshots.is_current,
        sources.earn_source
    from snapshots
    cross join sources

),

final as (

    select
        {{ surrogate_key(['grid.snapshot_date', 'grid.earn_source']) }} as earn_source_month_id,
        grid.snapshot_month,
        grid.snapshot_date,
        grid.is_current as is_current_month,
        grid.earn_source,
        cast(coalesce(in_month.entry_count, 0) as {{ dbt.type_int() }}) as entry_count,
        cast(coalesce(in_month.earning_member_count, 0) as {{ dbt.type_int() }}) as earning_member_count,
        cast(coalesce(in_month.points_earned, 0) as {{ dbt.type_bigint() }}) as points_earned,
        cast(coalesce(in_month.bonus_points, 0) as {{ dbt.type_bigint() }}) as bonus_points,
        cast(
            coalesce(in_month.points_earned, 0) - coalesce(in_month.bonus_points, 0) as {{ dbt.type_bigint() }}
        ) as base_points,
        cast(coalesce(in_month.multiplied_entry_count, 0) as {{ dbt.type_int() }}) as multiplied_entry_count,
        {{ cast_amount('coalesce(in_month.points_value_amount, 0)') }} as points_value_amount,
        cast(
            cast(coalesce(in_month.points_earned, 0) as {{ double_type() }})
            / nullif(sum(coalesce(in_month.points_earned, 0)) over (partition by grid.snapshot_date), 0)
            as {{ double_type() }}
        ) as points_share
    from grid
    left join in_month
        on grid.snapshot_date = in_month.snapshot_date
        and grid.earn_source = in_month.earn_source

)

select * from final
