with

source as (

    select * from {{ source_or_empty('raw_reference', 'stores') }}

),

renamed as (

    select
        ----------  ids
        store_id,
        zone_id,

        ----------  attributes
        store_name,
        tenant_name,
        category as store_category,
        floor,
        cast(area_sqm as decimal(10, 1)) as area_sqm,

        ----------  dates
        cast(opened_on as date) as opened_on,
        cast(closed_on as date) as closed_on,
        cast(snapshot_date as date) as snapshot_date,

        ----------  lineage
        _source_file,
        _source_line,
        _loaded_at

    from source

),

ranked as (

    -- full snapshots arrive repeatedly: each store's row from its latest snapshot
    select
        *,
        row_number() over (
            partition by store_id
            order by snapshot_date desc, {{ newest_copy_first() }}
        ) as recency_rank,
        max(snapshot_date) over () as latest_snapshot_date

    from renamed

),

final as (

    select
        store_id,
        zone_id,
        store_name,
        tenant_name,
        store_category,
        floor,
        area_sqm,
        opened_on,
        closed_on,
        closed_on is not null as is_closed,
        snapshot_date,
        snapshot_date = latest_snapshot_date as is_in_latest_snapshot,
        _source_file,
        _source_line,
        _loaded_at

    from ranked
    where recency_rank = 1

)

select * from final
