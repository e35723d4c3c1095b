{#-
    ISO day of week of a date or timestamp expression: 1 = Monday ... 7 = Sunday.
    dbt has no cross-database macro for it, so it is dispatched.
-#}
{% macro iso_weekday(column) -%}
    {{ return(adapter.dispatch('iso_weekday', 'mallcrm')(column)) }}
{%- endmacro %}

{#- Postgres, DuckDB, Redshift: extract(isodow ...). -#}
{% macro default__iso_weekday(column) -%}
    cast(extract(isodow from {{ column }}) as {{ dbt.type_int() }})
{%- endmacro %}

{#- Spark / Databricks: dayofweek() is 1 = Sunday ... 7 = Saturday. -#}
{% macro spark__iso_weekday(column) -%}
    cast(((dayofweek({{ column }}) + 5) % 7) + 1 as {{ dbt.type_int() }})
{%- endmacro %}

{% macro snowflake__iso_weekday(column) -%}
    cast(dayofweekiso({{ column }}) as {{ dbt.type_int() }})
{%- endmacro %}

{% macro bigquery__iso_weekday(column) -%}
    cast(mod(extract(dayofweek from {{ column }}) + 5, 7) + 1 as {{ dbt.type_int() }})
{%- endmacro %}

{#- Hour of day (0-23) of a timestamp expression; ANSI extract works on all the engines above. -#}
{% macro local_hour(column) -%}
    cast(extract(hour from {{ column }}) as {{ dbt.type_int() }})
{%- endmacro %}
