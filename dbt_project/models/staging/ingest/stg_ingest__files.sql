{#- Every file ingestion looked at, across all raw datasets. -#}

with
{% for source_name in raw_sources() %}
{{ source_name }}__ingested_files as (

    select
        '{{ source_name }}' as raw_source,
        source_file,
        sha256,
        system,
        entity,
        business_date,
        size_bytes,
        encoding,
        rows_in_file,
        rows_loaded,
        rows_quarantined,
        status,
        reason,
        loaded_at

    from {{ source_or_empty(source_name, 'ingested_files') }}

),

{{ source_name }}__suppressed_rows as (

    -- rows of erased people kept out of the file by the privacy suppression list
    select
        '{{ source_name }}' as raw_source,
        source_file,
        suppressed_at as loaded_at,
        sum(rows_suppressed) as rows_suppressed

    from {{ source_or_empty(source_name, 'suppressed_rows') }}
    group by 1, 2, 3

),
{% endfor %}
unioned_files as (

    {%- for source_name in raw_sources() %}
    select * from {{ source_name }}__ingested_files
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

),

unioned_suppressed as (

    {%- for source_name in raw_sources() %}
    select * from {{ source_name }}__suppressed_rows
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

),

unioned as (

    select
        f.*,
        coalesce(s.rows_suppressed, 0) as rows_suppressed

    from unioned_files as f
    left join unioned_suppressed as s
        on f.raw_source = s.raw_source
        and f.source_file = s.source_file
        and f.loaded_at = s.loaded_at

),

renamed as (

    select
        ----------  ids
        raw_source,
        source_file,
        sha256 as file_sha256,

        ----------  what the file is
        system as source_system,
        entity,
        cast(business_date as date) as business_date,
        cast(size_bytes as {{ dbt.type_bigint() }}) as size_bytes,
        encoding as file_encoding,

        ----------  what happened to it
        status as file_status,
        reason as status_reason,
        cast(rows_in_file as {{ dbt.type_bigint() }}) as rows_in_file,
        cast(rows_loaded as {{ dbt.type_bigint() }}) as rows_loaded,
        cast(rows_quarantined as {{ dbt.type_bigint() }}) as rows_quarantined,
        cast(rows_suppressed as {{ dbt.type_bigint() }}) as rows_suppressed,

        ----------  timestamps: ingestion writes UTC, staging speaks local time
        {{ to_local_timestamp('loaded_at') }} as ingested_at

    from unioned

),

keyed as (

    select
        {{ surrogate_key(['raw_source', 'source_file', 'file_sha256', 'ingested_at']) }} as ingested_file_id,
        *

    from renamed

),

ranked as (

    -- the same bookkeeping row written twice (a replayed load) counts once
    select
        *,
        row_number() over (
            partition by ingested_file_id
            order by ingested_at
        ) as copy_number

    from keyed

),

final as (

    select
        ingested_file_id,
        raw_source,
        source_file,
        file_sha256,
        source_system,
        entity,
        business_date,
        size_bytes,
        file_encoding,
        file_status,
        status_reason,
        file_status = 'loaded' as is_loaded,
        rows_in_file,
        rows_loaded,
        rows_quarantined,
        rows_suppressed,
        case
            when file_status <> 'duplicate'
                then rows_in_file - coalesce(rows_loaded, 0) - coalesce(rows_quarantined, 0) - rows_suppressed
        end as rows_unaccounted,
        ingested_at

    from ranked
    where copy_number = 1

)

select * from final
