{#-
    Tier distribution and movements per month: one row per (month, tier). Members are
    counted in the tier of their member record valid at the end of the snapshot day
    (month end, or the as-of date for the current month), active records only, each
    golden member once (its highest tier), as int_loyalty__member_snapshots has them.
    Upgrades and downgrades are the tier changes of the month, counted into the tier
    reached and out of the tier left.
-#}
with

member_snapshots as (

    select * from {{ ref('int_loyalty__member_snapshots') }}

),

tier_changes as (

    select * from {{ ref('msk_membership__tier_changes') }}

),

snapshots as (

    select * from {{ ref('int_member__snapshot_dates') }}

),

tiers as (

    select
        tier_ranks.tier,
        tier_ranks.tier_rank
    from (values ('basic', 1), ('silver', 2), ('gold', 3), ('diamond', 4)) as tier_ranks (tier, tier_rank)

),

tier_counts as (

    select
        snapshot_date,
        tier,
        count(*) as member_count
    from member_snapshots
    group by snapshot_date, tier

),

movements as (

    select
        snapshots.snapshot_date,
        tier_changes.from_tier,
        tier_changes.to_tier,
        tier_changes.is_upgrade
    from snapshots
    inner join tier_changes
        on snapshots.snapshot_date >= tier_changes.business_date
        and (
            snapshots.previous_snapshot_date is null
            or snapshots.previous_snapshot_date < tier_changes.business_date
        )

),

grid as (

    select
        snapshots.snapshot_month,
        snapshots.snapshot_date,
        snapshots.is_current,
        tiers.tier,
        tiers.tier_rank
    from snapshots
    cross join tiers

),

final as (

    select
        {{ surrogate_key(['grid.snapshot_date', 'grid.tier']) }} as tier_month_id,
        grid.snapshot_month,
        grid.snapshot_date,
        grid.is_current as is_current_month,
        grid.tier,
        cast(grid.tier_rank as {{ dbt.type_int() }}) as tier_rank,
        cast(coalesce(max(tier_counts.member_count), 0) as {{ dbt.type_int() }}) as member_count,
        cast(
            cast(coalesce(max(tier_counts.member_count), 0) as {{ double_type() }})
            / nullif(sum(coalesce(max(tier_counts.member_count), 0)) over (partition by grid.snapshot_date), 0)
            as decimal(9, 4)
        ) as member_share,
        cast(
            sum(case when movements.to_tier = grid.tier and movements.is_upgrade then 1 else 0 end)
            as {{ dbt.type_int() }}
        ) as upgrades_in,
        cast(
            sum(case when movements.to_tier = grid.tier and not movements.is_upgrade then 1 else 0 end)
            as {{ dbt.type_int() }}
        ) as downgrades_in,
        cast(
            sum(case when movements.from_tier = grid.tier and movements.is_upgrade then 1 else 0 end)
            as {{ dbt.type_int() }}
        ) as upgrades_out,
        cast(
            sum(case when movements.from_tier = grid.tier and not movements.is_upgrade then 1 else 0 end)
            as {{ dbt.type_int() }}
        ) as downgrades_out
    from grid
    left join tier_counts
        on grid.snapshot_date = tier_counts.snapshot_date
        and grid.tier = tier_counts.tier
    left join movements
        on grid.snapshot_date = movements.snapshot_date
        and (grid.tier = movements.to_tier or grid.tier = movements.from_tier)
    group by grid.snapshot_month, grid.snapshot_date, grid.is_current, grid.tier, grid.tier_rank

)

select * from final
