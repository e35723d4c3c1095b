{{ config(materialized=incremental_materialization()) }}
{%- set raw_relation = source_or_empty('raw_sensors', 'wifi_dwell') %}
with

source as (

    -- incremental: only the records with a new copy (macro only_keys_with_new_copies)
    select * from (select * from {{ raw_relation }}) as source_rows
    {{- only_keys_with_new_copies(raw_relation, ['device_hash', 'zone_id', 'visit_date']) }}

),

renamed as (

    select
        ----------  ids
        device_hash,
        zone_id,

        ----------  measures
        cast(dwell_minutes as {{ dbt.type_int() }}) as dwell_minutes,
        cast(visits as {{ dbt.type_int() }}) as visit_count,

        ----------  dates; timestamps: instants in raw, local wall-clock time here
        cast(visit_date as date) as business_date,
        {{ to_local_timestamp('first_seen_at') }} as first_seen_at,
        {{ to_local_timestamp('last_seen_at') }} as last_seen_at,

        ----------  lineage
        _source_file,
        _source_line,
        _loaded_at

    from source

),

ranked as (

    select
        *,
        row_number() over (
            partition by device_hash, zone_id, business_date
            order by {{ newest_copy_first() }}
        ) as copy_number

    from renamed

),

final as (

    select
        {{ surrogate_key(['device_hash', 'zone_id', 'business_date']) }} as wifi_dwell_id,
        device_hash,
        zone_id,
        business_date,
        first_seen_at,
        last_seen_at,
        dwell_minutes,
        visit_count,
        _source_file,
        _source_line,
        _loaded_at

    from ranked
    where copy_number = 1

)

select * from final
