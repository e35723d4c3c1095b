{#-
    NPS and CSAT per month by member segment, from identified respondents only.
    One row per (month_start_date, segment_type, segment_value), segment_type being
    `rfm_segment`, `lifecycle_stage` or `tier` from mart_member_360. Segments are the
    members' current ones (as of the latest build), not those at the time of answering;
    members without a segment (e.g. no purchase yet for RFM) fall in '(none)'.
    Kept apart from mart_nps_monthly so the mall/store/channel figures never wait on
    the member marts.
-#}

with

responses as (

    select * from {{ ref('fct_survey_responses') }}
    where member_id is not null

),

members as (

    select * from {{ ref('mart_member_360') }}

),

labelled as (

    select
        responses.month_start_date,
        responses.nps_score,
        responses.csat_score,
        coalesce(members.rfm_segment, '(none)') as rfm_segment,
        coalesce(members.lifecycle_stage, '(none)') as lifecycle_stage,
        coalesce(members.tier, '(none)') as tier

    from responses
    left join members on responses.member_id = members.member_id

),

{%- set segment_types = ['rfm_segment', 'lifecycle_stage', 'tier'] %}

{% for segment_type in segment_types %}
by_{{ segment_type }} as (

    select
        month_start_date,
        '{{ segment_type }}' as segment_type,
        {{ segment_type }} as segment_value,
        {{ nps_measures() }}
    from labelled
    group by month_start_date, {{ segment_type }}

),
{% endfor %}

unioned as (

    {% for segment_type in segment_types -%}
    select * from by_{{ segment_type }}
    {% if not loop.last %}union all
    {% endif -%}
    {%- endfor %}

),

final as (

    select
        {{ surrogate_key(['month_start_date', 'segment_type', 'segment_value']) }}
            as nps_segment_monthly_id,
        month_start_date,
        cast(segment_type as {{ dbt.type_string() }}) as segment_type,
        cast(segment_value as {{ dbt.type_string() }}) as segment_value,
        response_count,
        nps_response_count,
        promoter_count,
        passive_count,
        detractor_count,
        nps,
        nps_standard_error,
        nps_ci95_lower,
        nps_ci95_upper,
        csat_response_count,
        csat_average,
        csat_satisfied_share

    from unioned

)

select * from final
