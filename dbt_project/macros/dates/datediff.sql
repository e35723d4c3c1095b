{#-
    Override of dbt's datediff on Spark (the `dbt` namespace searches the root project
    first). dbt.datediff counts the `datepart` boundaries crossed (DuckDB, Snowflake: 22:19
    to 22:51 is 0 hours, 22:59 to 23:01 is 1), but dbt-spark divides the elapsed seconds
    and rounds up for hour, minute and second (22:19 to 22:51 would be 1 hour), and returns
    an INT where DuckDB returns a BIGINT. Here hour, minute and second count boundaries on
    the truncated instants, every part is a BIGINT, and the other parts are dbt-spark's.
-#}
{% macro spark__datediff(first_date, second_date, datepart) -%}
    {%- set seconds = {'hour': 3600, 'minute': 60, 'second': 1} -%}
    {%- if datepart in seconds -%}
        ((unix_seconds(date_trunc('{{ datepart }}', {{ second_date }}))
            - unix_seconds(date_trunc('{{ datepart }}', {{ first_date }}))) div {{ seconds[datepart] }})
    {%- else -%}
        cast({{ dbt.spark__datediff(first_date, second_date, datepart) }} as bigint)
    {%- endif -%}
{%- endmacro %}
