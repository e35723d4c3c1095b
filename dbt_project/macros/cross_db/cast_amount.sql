{#-
    Money in CNY: a fixed-point decimal with two places, whatever precision the loader
    chose for the raw column (dlt may widen DECIMAL(12,2)). Plain ANSI SQL.
-#}
{% macro cast_amount(column, scale=2) -%}
    cast({{ column }} as decimal(18, {{ scale }}))
{%- endmacro %}
