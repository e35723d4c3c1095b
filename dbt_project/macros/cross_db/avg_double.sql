{#-
    The mean of a numeric expression as a double-precision float (use `over (...)` after
    it for a window). DuckDB's avg() of an integer or DECIMAL already returns a DOUBLE
    from the exact sum; Spark's avg() of a DECIMAL is a DECIMAL rounded to scale + 4, so
    there the values are averaged as doubles.
-#}
{% macro avg_double(expression) -%}
    {{ return(adapter.dispatch('avg_double', 'mallcrm')(expression)) }}
{%- endmacro %}

{% macro default__avg_double(expression) -%}
    avg(cast({{ expression }} as {{ double_type() }}))
{%- endmacro %}

{% macro duckdb__avg_double(expression) -%}
    avg({{ expression }})
{%- endmacro %}
