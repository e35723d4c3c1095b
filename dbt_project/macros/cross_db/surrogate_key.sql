{#-
    A stable hash key over several columns (NULL-safe), for tables whose natural key
    spans more than one column. Built only from dbt's cross-database macros.
-#}
{% macro surrogate_key(columns) -%}
    {%- set parts = [] -%}
    {%- for column in columns -%}
        {%- do parts.append(
            "coalesce(" ~ dbt.safe_cast(column, dbt.type_string()) ~ ", '_null_')"
        ) -%}
        {%- if not loop.last -%}{%- do parts.append("'|'") -%}{%- endif -%}
    {%- endfor -%}
    {{ dbt.hash(dbt.concat(parts)) }}
{%- endmacro %}
