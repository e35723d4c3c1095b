{#-
    Version of an export file from its name: `<entity>_<YYYYMMDD>_v<N>.<ext>` is version N,
    any other name (the original, `_resend`) version 1. A correction is sent as a new file
    with a higher version (mallcrm/core/contract.py FILE_NAME_PATTERN accepts the suffix).
    Engines spell regular expressions differently, hence dispatched; the pattern avoids
    backslashes, which engines escape differently in string literals.
-#}
{% macro source_file_version(column) -%}
    {{ return(adapter.dispatch('source_file_version', 'mallcrm')(column)) }}
{%- endmacro %}

{#- regexp_extract(string, pattern, group): DuckDB, Spark, Databricks ('' when no match). -#}
{% macro default__source_file_version(column) -%}
    coalesce(cast(nullif(regexp_extract({{ column }}, '_v([0-9]+)[.][a-z]+$', 1), '') as {{ dbt.type_int() }}), 1)
{%- endmacro %}

{% macro postgres__source_file_version(column) -%}
    coalesce(cast(substring({{ column }} from '_v([0-9]+)[.][a-z]+$') as {{ dbt.type_int() }}), 1)
{%- endmacro %}

{% macro snowflake__source_file_version(column) -%}
    coalesce(cast(regexp_substr({{ column }}, '_v([0-9]+)[.][a-z]+$', 1, 1, 'e', 1) as {{ dbt.type_int() }}), 1)
{%- endmacro %}

{% macro bigquery__source_file_version(column) -%}
    coalesce(cast(regexp_extract({{ column }}, r'_v([0-9]+)[.][a-z]+$') as {{ dbt.type_int() }}), 1)
{%- endmacro %}

{#-
    ORDER BY list that puts the newest statement of a record first: the highest file
    version, then the latest load (`_loaded_at`), then the later file and line (files of
    one load are loaded in name order, lines in line order). Staging keeps row_number() = 1
    over it wherever a record can arrive more than once (re-sent files, corrections).
-#}
{% macro newest_copy_first() -%}
    {{ source_file_version('_source_file') }} desc, _loaded_at desc, _source_file desc, _source_line desc
{%- endmacro %}
