{#-
    The target engine's spelling of a column type declared in a yml (`data_type` of a
    contracted model or a source). The ymls use the DuckDB / ANSI names; Spark has no
    `timestamp with time zone` (its TIMESTAMP is the instant type) and wants `string`,
    not a length-less `varchar`. Used wherever a declared type reaches SQL: the contract
    check (spark__get_empty_schema_sql) and the empty stand-in of a missing source.
-#}
{% macro column_type(data_type) -%}
    {{ return(adapter.dispatch('column_type', 'mallcrm')(data_type)) }}
{%- endmacro %}

{% macro default__column_type(data_type) -%}
    {{ return(data_type) }}
{%- endmacro %}

{% macro spark__column_type(data_type) -%}
    {%- set spelled = data_type.strip().lower() -%}
    {%- if spelled == 'timestamp with time zone' -%}
        {{ return('timestamp') }}
    {%- elif spelled == 'varchar' -%}
        {{ return('string') }}
    {%- endif -%}
    {{ return(data_type) }}
{%- endmacro %}

{#-
    Override of dbt's contract check on Spark (the `dbt` namespace searches the root
    project first): the empty schema the model's columns are compared with is built from
    the declared types in Spark's spelling (column_type), so one yml serves both engines.
-#}
{% macro spark__get_empty_schema_sql(columns) -%}
    {%- set spelled = {} -%}
    {%- for name, column in columns.items() -%}
        {%- set copy = column.copy() -%}
        {%- if copy.get('data_type') is not none -%}
            {%- do copy.update({'data_type': column_type(copy['data_type'])}) -%}
        {%- endif -%}
        {%- do spelled.update({name: copy}) -%}
    {%- endfor -%}
    {{ return(default__get_empty_schema_sql(spelled)) }}
{%- endmacro %}
