{#-
    Wi-Fi dwell per zone and day: one row per (zone_id, business_date). Devices are
    counted by their pseudonymous token (never the device id); one device is one
    probable visitor.
-#}

with

dwell as (

    select * from {{ ref('msk_sensors__wifi_dwell') }}

),

zones as (

    select * from {{ ref('msk_reference__zones') }}

),

aggregated as (

    select
        zone_id,
        business_date,
        count(distinct device_token) as device_count,
        sum(visit_count) as visit_count,
        sum(dwell_minutes) as dwell_minutes

    from dwell
    group by zone_id, business_date

),

final as (

    select
        {{ surrogate_key(['aggregated.zone_id', 'aggregated.business_date']) }} as zone_dwell_id,
        aggregated.zone_id,
        zones.zone_name,
        zones.zone_type,
        aggregated.business_date,
        {{ iso_day_of_week('aggregated.business_date') }} as iso_day_of_week,
        cast(aggregated.device_count as {{ dbt.type_int() }}) as device_count,
        cast(aggregated.visit_count as {{ dbt.type_int() }}) as visit_count,
        cast(aggregated.dwell_minutes as {{ dbt.type_bigint() }}) as dwell_minutes,
        cast(
            aggregated.dwell_minutes * 1.0 / nullif(aggregated.device_count, 0)
            as {{ double_type() }}
        ) as avg_dwell_minutes_per_device,
        cast(
            aggregated.dwell_minutes * 1.0 / nullif(aggregated.visit_count, 0)
            as {{ double_type() }}
        ) as avg_dwell_minutes_per_visit

    from aggregated
    left join zones on aggregated.zone_id = zones.zone_id

)

select * from final
