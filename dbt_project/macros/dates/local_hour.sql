{#- Hour of day (0-23) of a timestamp expression; ANSI extract works on every engine. -#}
{% macro local_hour(column) -%}
    cast(extract(hour from {{ column }}) as {{ dbt.type_int() }})
{%- endmacro %}
