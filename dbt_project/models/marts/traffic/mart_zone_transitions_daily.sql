{{
    config(
        on_schema_change='fail',
        **incremental_by_day('business_date')
    )
}}
{#-
    Shopper paths between zones (动线): how many devices went from one zone to the next
    on a day, read from the Wi-Fi dwell sequence of each device (its zones ordered by
    first seen). One row per (business_date, from_zone_id, to_zone_id). Devices are
    their pseudonymous token; a path never leaves its day. Incremental by day like
    mart_zone_dwell_daily: a rebuilt day is rebuilt whole, so every sequence is complete.
-#}
-- depends_on: {{ ref('msk_reference__zones') }}

with

dwell as (

    select * from {{ ref('msk_sensors__wifi_dwell') }}
    {%- if is_incremental() %}
    where business_date in (
        {{ business_days_to_rebuild([ref('msk_sensors__wifi_dwell')], references=[ref('msk_reference__zones')]) }}
    )
    {%- endif %}

),

zones as (

    select * from {{ ref('msk_reference__zones') }}

),

sequenced as (

    select
        device_token,
        business_date,
        zone_id as from_zone_id,
        lead(zone_id) over (
            partition by device_token, business_date
            order by first_seen_at, zone_id
        ) as to_zone_id,
        _loaded_at

    from dwell

),

transitions as (

    select
        business_date,
        from_zone_id,
        to_zone_id,
        count(*) as transition_count,
        count(distinct device_token) as device_count,
        max(_loaded_at) as _loaded_at

    from sequenced
    where to_zone_id is not null and to_zone_id != from_zone_id
    group by business_date, from_zone_id, to_zone_id

),

final as (

    select
        {{ surrogate_key(['transitions.business_date', 'transitions.from_zone_id', 'transitions.to_zone_id']) }}
            as zone_transition_id,
        transitions.business_date,
        transitions.from_zone_id,
        from_zones.zone_name as from_zone_name,
        from_zones.zone_type as from_zone_type,
        transitions.to_zone_id,
        to_zones.zone_name as to_zone_name,
        to_zones.zone_type as to_zone_type,
        cast(transitions.transition_count as {{ dbt.type_int() }}) as transition_count,
        cast(transitions.device_count as {{ dbt.type_int() }}) as device_count,
        transitions._loaded_at

    from transitions
    left join zones as from_zones on transitions.from_zone_id = from_zones.zone_id
    left join zones as to_zones on transitions.to_zone_id = to_zones.zone_id

)

select * from final
