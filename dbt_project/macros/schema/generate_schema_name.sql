{#-
    Custom schemas are used as they are: `+schema: staging` builds into `staging`,
    not `<target schema>_staging` (dbt's default). Models without a custom schema
    go to the target schema.
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
