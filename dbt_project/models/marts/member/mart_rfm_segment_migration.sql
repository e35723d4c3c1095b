{#-
    How members moved between RFM segments from one month's snapshot to the next:
    one row per (month, from segment, to segment). A member scored in only one of the
    two months moves from or to 'Not Scored' (no purchase in the RFM window).
-#}
with

rfm as (

    select * from {{ ref('int_member__rfm_snapshots') }}

),

snapshots as (

    select * from {{ ref('int_member__snapshot_dates') }}
    where previous_snapshot_date is not null

),

from_side as (

    select
        snapshots.snapshot_date as to_snapshot_date,
        rfm.member_id,
        rfm.rfm_segment
    from snapshots
    inner join rfm
        on snapshots.previous_snapshot_date = rfm.snapshot_date

),

to_side as (

    select
        snapshots.snapshot_date as to_snapshot_date,
        rfm.member_id,
        rfm.rfm_segment
    from snapshots
    inner join rfm
        on snapshots.snapshot_date = rfm.snapshot_date

),

moves as (

    select
        coalesce(to_side.to_snapshot_date, from_side.to_snapshot_date) as to_snapshot_date,
        coalesce(from_side.rfm_segment, 'Not Scored') as from_segment,
        coalesce(to_side.rfm_segment, 'Not Scored') as to_segment
    from from_side
    full outer join to_side
        on from_side.to_snapshot_date = to_side.to_snapshot_date
        and from_side.member_id = to_side.member_id

),

grouped as (

    select
        to_snapshot_date,
        from_segment,
        to_segment,
        count(*) as member_count
    from moves
    group by to_snapshot_date, from_segment, to_segment

),

final as (

    select
        {{ surrogate_key(['grouped.to_snapshot_date', 'grouped.from_segment', 'grouped.to_segment']) }}
            as segment_migration_id,
        snapshots.snapshot_month,
        snapshots.previous_snapshot_date as from_snapshot_date,
        grouped.to_snapshot_date,
        grouped.from_segment,
        grouped.to_segment,
        grouped.from_segment = grouped.to_segment as is_same_segment,
        cast(grouped.member_count as {{ dbt.type_int() }}) as member_count,
        cast(
            cast(grouped.member_count as {{ double_type() }})
            / sum(grouped.member_count) over (partition by grouped.to_snapshot_date, grouped.from_segment)
            as decimal(9, 4)
        ) as share_of_from_segment
    from grouped
    inner join snapshots
        on grouped.to_snapshot_date = snapshots.snapshot_date

)

select * from final
