{#- Fails for every row of `model` where one of `columns` is NULL; names the NULL columns. -#}
{% test not_null_columns(model, columns) %}

with checked as (

    select
        concat_ws(
            ', ',
            {%- for column in columns %}
            case when {{ adapter.quote(column) }} is null then '{{ column }}' end
            {%- if not loop.last %},{% endif %}
            {%- endfor %}
        ) as null_columns
    from {{ model }}

)

select null_columns
from checked
where null_columns <> ''

{% endtest %}
