{#-
    The follow-up satisfaction (回访满意度) aggregates over a set of complaints (rows of
    fct_complaints), as a select list: scores given, satisfied (4-5, the flag
    is_satisfied_at_follow_up of fct_complaints), the average score and the satisfied
    share of the scores given. Complaints without a score count in none of them.
-#}
{% macro follow_up_satisfaction_measures(
    score='follow_up_satisfaction', satisfied='is_satisfied_at_follow_up'
) -%}
        cast(count({{ score }}) as {{ dbt.type_int() }}) as follow_up_scored_count,
        cast(
            sum(case when {{ satisfied }} then 1 else 0 end) as {{ dbt.type_int() }}
        ) as follow_up_satisfied_count,
        cast({{ avg_double(score) }} as {{ double_type() }}) as avg_follow_up_satisfaction,
        cast(
            cast(sum(case when {{ satisfied }} then 1 else 0 end) as {{ double_type() }})
            / nullif(count({{ score }}), 0)
            as {{ double_type() }}
        ) as follow_up_satisfied_share
{%- endmacro %}
