with

source as (

    select * from {{ source_or_empty('raw_reference', 'zones') }}

),

renamed as (

    select
        ----------  ids
        zone_id,

        ----------  attributes
        zone_name,
        floor,
        zone_type,

        ----------  dates
        cast(snapshot_date as date) as snapshot_date,

        ----------  lineage
        _source_file,
        _source_line,
        _loaded_at

    from source

),

ranked as (

    -- full snapshots arrive repeatedly: each zone's row from its latest snapshot
    select
        *,
        row_number() over (
            partition by zone_id
            order by snapshot_date desc, {{ newest_copy_first() }}
        ) as recency_rank,
        max(snapshot_date) over () as latest_snapshot_date

    from renamed

),

final as (

    select
        zone_id,
        zone_name,
        floor,
        zone_type,
        snapshot_date,
        snapshot_date = latest_snapshot_date as is_in_latest_snapshot,
        _source_file,
        _source_line,
        _loaded_at

    from ranked
    where recency_rank = 1

)

select * from final
