{{
    config(
        materialized=incremental_materialization(),
        incremental_strategy='delete+insert',
        unique_key='people_count_id',
        on_schema_change='append_new_columns'
    )
}}

{#-
    One row per counter and 15-minute interval: people in and out, with the zone and
    the calendar attributes (ISO weekday, hour) the heatmap groups by.
-#}

with

people_counts as (

    select * from {{ ref('msk_sensors__people_counts') }}
    {%- if is_incremental() %}
    where {{ incremental_lookback('_loaded_at') }}
    {%- endif %}

),

zones as (

    select * from {{ ref('msk_reference__zones') }}

),

final as (

    select
        people_counts.people_count_id,
        people_counts.counter_id,
        people_counts.zone_id,
        zones.zone_name,
        zones.zone_type,
        zones.floor,
        people_counts.location_type,
        people_counts.is_entrance,
        people_counts.interval_start_at,
        people_counts.interval_end_at,
        people_counts.interval_minutes,
        people_counts.business_date,
        {{ iso_day_of_week('people_counts.business_date') }} as iso_day_of_week,
        {{ local_hour('people_counts.interval_start_at') }} as hour_of_day,
        people_counts.people_in,
        people_counts.people_out,
        people_counts.net_people_flow,
        people_counts._loaded_at

    from people_counts
    left join zones on people_counts.zone_id = zones.zone_id

)

select * from final
