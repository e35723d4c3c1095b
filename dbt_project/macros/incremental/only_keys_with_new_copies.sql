{#-
    Row filter of an incremental staging model over its raw relation (aliased
    `source_rows`): on an incremental run, only the raw copies of the records (`keys`, raw
    column names) that received a copy within var `incremental_lookback_days` of the
    latest `_loaded_at` already in the table. The newest-copy ranking then runs over those
    records' copies, not over the whole history, and delete+insert on the staging key
    replaces just their rows: a record's newest copy is the same whether it is ranked
    among all copies or among its own. An empty table takes everything. Outside an
    incremental run the filter is empty (full build).
-#}
{% macro only_keys_with_new_copies(raw_relation, keys, loaded_at='_loaded_at') -%}
    {%- if is_incremental() %}
    where exists (
        select 1
        from {{ raw_relation }} as new_copies
        where new_copies.{{ loaded_at }} >= (
                select coalesce(
                    {{ dbt.dateadd('day', -1 * var('incremental_lookback_days'), 'max(' ~ loaded_at ~ ')') }},
                    cast('1900-01-01' as {{ dbt.type_timestamp() }})
                )
                from {{ this }}
            )
            {%- for key in keys %}
            and new_copies.{{ key }} = source_rows.{{ key }}
            {%- endfor %}
    )
    {%- endif %}
{%- endmacro %}
