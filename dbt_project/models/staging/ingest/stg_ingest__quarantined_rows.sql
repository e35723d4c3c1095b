{#- Every row ingestion did not load, with the rule it broke, across all raw datasets. -#}

with
{% for source_name in raw_sources() %}
{{ source_name }}__quarantined_rows as (

    select
        '{{ source_name }}' as raw_source,
        source_file,
        source_line,
        system,
        entity,
        rule,
        reason,
        raw_record,
        quarantined_at

    from {{ source_or_empty(source_name, 'quarantined_rows') }}

),
{% endfor %}
unioned as (

    {%- for source_name in raw_sources() %}
    select * from {{ source_name }}__quarantined_rows
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

),

renamed as (

    select
        ----------  ids
        raw_source,
        source_file,
        cast(source_line as {{ dbt.type_bigint() }}) as source_line,

        ----------  what and why
        system as source_system,
        entity,
        rule as rule_name,
        {{ dbt.split_part('rule', "':'", 1) }} as rule_kind,
        reason as quarantine_reason,
        raw_record,

        ----------  timestamps: ingestion writes UTC, staging speaks local time
        {{ to_local_timestamp('quarantined_at') }} as quarantined_at

    from unioned

),

keyed as (

    select
        {{ surrogate_key(['raw_source', 'source_file', 'source_line', 'rule_name', 'quarantined_at']) }}
            as quarantined_row_id,
        *

    from renamed

),

ranked as (

    select
        *,
        row_number() over (
            partition by quarantined_row_id
            order by quarantined_at
        ) as copy_number

    from keyed

),

final as (

    select
        quarantined_row_id,
        raw_source,
        source_file,
        source_line,
        source_system,
        entity,
        rule_name,
        rule_kind,
        quarantine_reason,
        raw_record,
        quarantined_at

    from ranked
    where copy_number = 1

)

select * from final
