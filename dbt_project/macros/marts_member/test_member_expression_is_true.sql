{#-
    Model-level test: every row satisfies the boolean SQL `expression` (rows where it is
    false or NULL fail). Named with the `member_` prefix so it cannot clash with a
    project-wide `expression_is_true` another layer may add.
-#}
{% test member_expression_is_true(model, expression) %}

select *
from {{ model }}
where not coalesce(({{ expression }}), false)

{% endtest %}
