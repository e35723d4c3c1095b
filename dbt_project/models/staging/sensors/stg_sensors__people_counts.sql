{{ config(materialized=incremental_materialization()) }}
{%- set raw_relation = source_or_empty('raw_sensors', 'people_counts') %}
with

source as (

    -- incremental: only the records with a new copy (macro only_keys_with_new_copies)
    select * from (select * from {{ raw_relation }}) as source_rows
    {{- only_keys_with_new_copies(raw_relation, ['counter_id', 'interval_start']) }}

),

renamed as (

    select
        ----------  ids
        counter_id,
        zone_id,

        ----------  attributes
        location_type,
        cast(interval_minutes as {{ dbt.type_int() }}) as interval_minutes,
        cast(count_in as {{ dbt.type_int() }}) as people_in,
        cast(count_out as {{ dbt.type_int() }}) as people_out,

        ----------  timestamps: instants in raw, local wall-clock time here
        {{ to_local_timestamp('interval_start') }} as interval_start_at,

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
            partition by counter_id, interval_start_at
            order by {{ newest_copy_first() }}
        ) as copy_number

    from renamed

),

final as (

    select
        {{ surrogate_key(['counter_id', 'interval_start_at']) }} as people_count_id,
        counter_id,
        zone_id,
        location_type,
        location_type = 'entrance' as is_entrance,
        interval_start_at,
        {{ dbt.dateadd('minute', 'interval_minutes', 'interval_start_at') }} as interval_end_at,
        interval_minutes,
        cast(interval_start_at as date) as business_date,
        people_in,
        people_out,
        people_in - people_out as net_people_flow,
        _source_file,
        _source_line,
        _loaded_at

    from ranked
    where copy_number = 1

)

select * from final
