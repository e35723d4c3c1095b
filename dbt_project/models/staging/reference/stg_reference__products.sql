with

source as (

    select * from {{ source_or_empty('raw_reference', 'products') }}

),

renamed as (

    select
        ----------  ids
        sku,
        store_id,

        ----------  attributes
        product_name,
        category as product_category,
        brand,

        ----------  amounts (CNY)
        {{ cast_amount('unit_price') }} as unit_price,
        {{ cast_amount('unit_cost') }} as unit_cost,

        ----------  dates
        cast(snapshot_date as date) as snapshot_date,

        ----------  lineage
        _source_file,
        _source_line,
        _loaded_at

    from source

),

ranked as (

    -- full snapshots arrive repeatedly: each product's row from its latest snapshot
    select
        *,
        row_number() over (
            partition by sku
            order by snapshot_date desc, {{ newest_copy_first() }}
        ) as recency_rank,
        max(snapshot_date) over () as latest_snapshot_date

    from renamed

),

final as (

    select
        sku,
        store_id,
        product_name,
        product_category,
        brand,
        unit_price,
        unit_cost,
        unit_price - unit_cost as unit_margin,
        snapshot_date,
        snapshot_date = latest_snapshot_date as is_in_latest_snapshot,
        _source_file,
        _source_line,
        _loaded_at

    from ranked
    where recency_rank = 1

)

select * from final
