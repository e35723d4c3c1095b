{#-
    ISO day of week of a date or timestamp expression: 1 = Monday ... 7 = Sunday.
    dbt has no cross-database macro for it, so it is dispatched.
-#}
{% macro iso_day_of_week(date_expression) -%}
    {{ return(adapter.dispatch('iso_day_of_week', 'mallcrm')(date_expression)) }}
{%- endmacro %}

{#- Postgres, DuckDB, Redshift: extract(isodow ...). -#}
{% macro default__iso_day_of_week(date_expression) -%}
    cast(extract(isodow from {{ date_expression }}) as {{ dbt.type_int() }})
{%- endmacro %}

{% macro snowflake__iso_day_of_week(date_expression) -%}
    cast(dayofweekiso({{ date_expression }}) as {{ dbt.type_int() }})
{%- endmacro %}

{#- Spark / Databricks dayofweek: Sunday 1 ... Saturday 7. -#}
{% macro spark__iso_day_of_week(date_expression) -%}
    cast(((dayofweek({{ date_expression }}) + 5) % 7) + 1 as {{ dbt.type_int() }})
{%- endmacro %}

{#- BigQuery extract(dayofweek): Sunday 1 ... Saturday 7. -#}
{% macro bigquery__iso_day_of_week(date_expression) -%}
    cast(mod(extract(dayofweek from {{ date_expression }}) + 5, 7) + 1 as {{ dbt.type_int() }})
{%- endmacro %}
