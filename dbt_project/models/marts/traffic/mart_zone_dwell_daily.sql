{{
    config(
        on_schema_change='fail',
        **incremental_by_day('business_date')
    )
}}
{#-
    Wi-Fi dwell per zone and day: one row per (zone_id, business_date). Devices are
    counted by their pseudonymous token (never the device id); one device is one
    probable visitor. Incremental by day: a run rebuilds the days of the dwell rows
    loaded since the newest load it holds (lookback included), and every day when the
    zones reference changed (macro business_days_to_rebuild).
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

aggregated as (

    select
        zone_id,
        business_date,
        count(distinct device_token) as device_count,
        sum(visit_count) as visit_count,
        sum(dwell_minutes) as dwell_minutes,
        max(_loaded_at) as _loaded_at

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
            cast(aggregated.dwell_minutes as {{ double_type() }}) / nullif(aggregated.device_count, 0)
            as {{ double_type() }}
        ) as avg_dwell_minutes_per_device,
        cast(
            cast(aggregated.dwell_minutes as {{ double_type() }}) / nullif(aggregated.visit_count, 0)
            as {{ double_type() }}
        ) as avg_dwell_minutes_per_visit,
        aggregated._loaded_at

    from aggregated
    left join zones on aggregated.zone_id = zones.zone_id

)

select * from final
