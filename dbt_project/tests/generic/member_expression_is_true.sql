{#- Fails for every row where the boolean SQL `expression` is false or NULL. -#}
{% test member_expression_is_true(model, expression) %}

select *
from {{ model }}
where not coalesce(({{ expression }}), false)

{% endtest %}
