{#-
    The agreed NPS aggregates over a set of survey responses (rows of
    fct_survey_responses or anything with `nps_score` and `csat_score`), as a select
    list. NPS = %promoters (9-10) - %detractors (0-6), -100..100. Its 95% confidence
    interval uses the variance of the per-response score (+1 promoter, 0 passive,
    -1 detractor): se = sqrt((p_pro + p_det - (p_pro - p_det)^2) / n) * 100.
    Responses without an NPS answer (CSAT only) count for CSAT, not for NPS.
    NPS, its standard error and interval are rounded to 6 decimals (points), so they
    compare exactly across engines. Shares are computed in double precision (a count
    `* 1.0` would be a DECIMAL on Spark, whose division keeps 6 decimal places).
-#}
{% macro nps_measures(nps_score='nps_score', csat_score='csat_score', z=1.959963984540054) -%}
    {%- set n = "count(" ~ nps_score ~ ")" -%}
    {%- set pro = "sum(case when " ~ nps_score ~ " >= 9 then 1 else 0 end)" -%}
    {%- set det = "sum(case when " ~ nps_score ~ " <= 6 then 1 else 0 end)" -%}
    {%- set p_pro = "(cast(" ~ pro ~ " as " ~ double_type() ~ ") / nullif(" ~ n ~ ", 0))" -%}
    {%- set p_det = "(cast(" ~ det ~ " as " ~ double_type() ~ ") / nullif(" ~ n ~ ", 0))" -%}
    {%- set score = "((" ~ p_pro ~ " - " ~ p_det ~ ") * 100)" -%}
    {%- set mean_score = "(" ~ p_pro ~ " - " ~ p_det ~ ")" -%}
    {%- set variance = "greatest(" ~ p_pro ~ " + " ~ p_det ~ " - " ~ mean_score ~ " * " ~ mean_score ~ ", 0)" -%}
    {%- set se = "(sqrt(" ~ variance ~ " / nullif(" ~ n ~ ", 0)) * 100)" -%}
        cast(count(*) as {{ dbt.type_int() }}) as response_count,
        cast({{ n }} as {{ dbt.type_int() }}) as nps_response_count,
        cast({{ pro }} as {{ dbt.type_int() }}) as promoter_count,
        cast(
            sum(case when {{ nps_score }} between 7 and 8 then 1 else 0 end)
            as {{ dbt.type_int() }}
        ) as passive_count,
        cast({{ det }} as {{ dbt.type_int() }}) as detractor_count,
        cast(round({{ score }}, 6) as {{ double_type() }}) as nps,
        cast(round({{ se }}, 6) as {{ double_type() }}) as nps_standard_error,
        cast(
            round(greatest({{ score }} - {{ z }} * {{ se }}, -100), 6)
            as {{ double_type() }}
        ) as nps_ci95_lower,
        cast(
            round(least({{ score }} + {{ z }} * {{ se }}, 100), 6)
            as {{ double_type() }}
        ) as nps_ci95_upper,
        cast(count({{ csat_score }}) as {{ dbt.type_int() }}) as csat_response_count,
        cast({{ avg_double(csat_score) }} as {{ double_type() }}) as csat_average,
        cast(
            cast(sum(case when {{ csat_score }} >= 4 then 1 else 0 end) as {{ double_type() }})
            / nullif(count({{ csat_score }}), 0)
            as {{ double_type() }}
        ) as csat_satisfied_share
{%- endmacro %}
