{#- One row per store (tenant) with its zone, from the latest reference snapshots. -#}
with

stores as (

    select * from {{ ref('msk_reference__stores') }}

),

zones as (

    select * from {{ ref('msk_reference__zones') }}

),

final as (

    select
        stores.store_id,
        stores.store_name,
        stores.tenant_name,
        stores.store_category,
        stores.floor,
        stores.zone_id,
        zones.zone_name,
        zones.zone_type,
        stores.area_sqm,
        stores.opened_on,
        stores.closed_on,
        stores.is_closed,
        stores.is_in_latest_snapshot,
        stores.snapshot_date
    from stores
    left join zones
        on stores.zone_id = zones.zone_id

)

select * from final
