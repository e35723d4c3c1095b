{#-
    Foot-traffic heatmap: one row per zone x ISO weekday (1 = Monday) x hour of day.
    Totals over every observed day, and averages per observed day of that weekday.
-#}

with

intervals as (

    select * from {{ ref('fct_foot_traffic_intervals') }}

),

aggregated as (

    select
        zone_id,
        max(zone_name) as zone_name,
        max(zone_type) as zone_type,
        max(floor) as floor,
        iso_day_of_week,
        hour_of_day,
        count(distinct business_date) as days_observed,
        sum(people_in) as people_in,
        sum(people_out) as people_out

    from intervals
    group by zone_id, iso_day_of_week, hour_of_day

),

final as (

    select
        {{ surrogate_key(['zone_id', 'iso_day_of_week', 'hour_of_day']) }} as heatmap_cell_id,
        zone_id,
        zone_name,
        zone_type,
        floor,
        iso_day_of_week,
        hour_of_day,
        cast(days_observed as {{ dbt.type_int() }}) as days_observed,
        cast(people_in as {{ dbt.type_bigint() }}) as people_in,
        cast(people_out as {{ dbt.type_bigint() }}) as people_out,
        cast(cast(people_in as {{ double_type() }}) / days_observed as {{ double_type() }}) as avg_people_in_per_day,
        cast(cast(people_out as {{ double_type() }}) / days_observed as {{ double_type() }}) as avg_people_out_per_day

    from aggregated

)

select * from final
