{#-
    A double-precision (8-byte) float type. dbt's type_float() is `float`, which is a
    4-byte REAL on DuckDB and Postgres - too coarse for rates and test statistics.
-#}
{% macro double_type() -%}
    {{ return(adapter.dispatch('double_type', 'mallcrm')()) }}
{%- endmacro %}

{% macro default__double_type() -%}
    double precision
{%- endmacro %}

{% macro duckdb__double_type() -%}
    double
{%- endmacro %}

{% macro spark__double_type() -%}
    double
{%- endmacro %}

{% macro bigquery__double_type() -%}
    float64
{%- endmacro %}
