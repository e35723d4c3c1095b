{#-
    `source()` for raw tables that may not exist yet.

    dlt creates a raw table with the first file of its entity, and the ingestion
    bookkeeping tables (`ingested_files`, `quarantined_rows`) appear only once a
    dataset has had one. Until then this returns an empty, correctly typed relation
    built from the `data_type`s declared on the source's columns, so the staging
    views still build (and rebuild to the real table on the next run). A table that
    exists but lacks a declared column (loaded before an optional contract column was
    added) gets it as a typed NULL the same way.

    The source() call is always made, so lineage (and Dagster's asset graph) is the
    same either way; at parse time and inside unit tests (where the source is a CTE
    fixture) the source relation is returned untouched.
-#}
{% macro source_or_empty(source_name, table_name) -%}
    {%- set relation = source(source_name, table_name) -%}
    {%- if not execute or relation.is_cte -%}
        {{ return(relation) }}
    {%- endif -%}
    {%- set existing = adapter.get_relation(
        database=relation.database, schema=relation.schema, identifier=relation.identifier
    ) -%}
    {%- set node = graph.sources.values()
        | selectattr('source_name', 'equalto', source_name)
        | selectattr('name', 'equalto', table_name)
        | first -%}
    {%- set columns = node.columns.values() | list if node else [] -%}
    {%- if existing is not none -%}
        {#- a table loaded before an optional contract column existed reads it as NULL -#}
        {%- set present = adapter.get_columns_in_relation(existing) | map(attribute='name') | map('lower') | list -%}
        {%- set absent = columns | rejectattr('name', 'in', present) | selectattr('data_type') | list -%}
        {%- if absent | length == 0 -%}
            {{ return(relation) }}
        {%- endif -%}
        {%- set widened_sql -%}
            (select *
            {%- for column in absent %},
                cast(null as {{ column_type(column.data_type) }}) as {{ adapter.quote(column.name) }}
            {%- endfor %}
            from {{ relation }}) as {{ adapter.quote('widened_' ~ source_name ~ '__' ~ table_name) }}
        {%- endset -%}
        {{ return(widened_sql) }}
    {%- endif -%}
    {%- if columns | length == 0 -%}
        {{ exceptions.raise_compiler_error(
            "Source " ~ source_name ~ "." ~ table_name ~ " does not exist in the warehouse "
            ~ "and declares no column data_types to stand in for it."
        ) }}
    {%- endif -%}
    {{ log("source " ~ source_name ~ "." ~ table_name ~ " not found: reading it as empty", info=false) }}
    {%- set empty_sql -%}
        (select
        {%- for column in columns %}
            cast(null as {{ column_type(column.data_type) }}) as {{ adapter.quote(column.name) }}{{ "," if not loop.last }}
        {%- endfor %}
        where 1 = 0) as {{ adapter.quote('empty_' ~ source_name ~ '__' ~ table_name) }}
    {%- endset -%}
    {{ return(empty_sql) }}
{%- endmacro %}
