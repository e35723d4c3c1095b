{#-
    Convert a TIMESTAMP WITH TIME ZONE expression to the mall's local wall-clock time
    (var `timezone`, Asia/Shanghai) as a TIMESTAMP without time zone.

    The raw layer stores every timestamp as an instant: ingestion reads the exports'
    local wall-clock columns in the mall's zone, and the survey SaaS sends UTC with an
    offset. Staging presents all of them as local wall-clock time with this macro.
-#}
{% macro to_local_timestamp(column, timezone=none) -%}
    {{ return(adapter.dispatch('to_local_timestamp', 'mallcrm')(column, timezone or var('timezone'))) }}
{%- endmacro %}

{#- ANSI/Postgres: `at time zone` on a timestamptz yields the local timestamp. -#}
{% macro default__to_local_timestamp(column, timezone) -%}
    cast(({{ column }}) at time zone '{{ timezone }}' as {{ dbt.type_timestamp() }})
{%- endmacro %}

{#- DuckDB (ICU): timezone(zone, timestamptz) returns the naive local timestamp. -#}
{% macro duckdb__to_local_timestamp(column, timezone) -%}
    timezone('{{ timezone }}', {{ column }})
{%- endmacro %}

{#-
    Spark: TIMESTAMP is an instant; from_utc_timestamp shifts it to the zone's wall-clock
    time (read in the UTC session time zone that `mallcrm spark up` sets).
-#}
{% macro spark__to_local_timestamp(column, timezone) -%}
    from_utc_timestamp({{ column }}, '{{ timezone }}')
{%- endmacro %}

{% macro snowflake__to_local_timestamp(column, timezone) -%}
    convert_timezone('{{ timezone }}', {{ column }})::timestamp_ntz
{%- endmacro %}

{% macro bigquery__to_local_timestamp(column, timezone) -%}
    datetime({{ column }}, '{{ timezone }}')
{%- endmacro %}
