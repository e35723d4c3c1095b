{{
    config(
        materialized=incremental_materialization(),
        incremental_strategy='delete+insert',
        unique_key='response_id',
        on_schema_change='append_new_columns'
    )
}}

with

surveys as (

    select * from {{ ref('msk_feedback__surveys') }}
    {%- if is_incremental() %}
    where {{ incremental_lookback('_loaded_at') }}
    {%- endif %}

),

final as (

    select
        response_id,
        member_id,
        store_id,
        survey_channel,
        submitted_at,
        business_date,
        cast({{ dbt.date_trunc('month', 'business_date') }} as date) as month_start_date,
        nps_score,
        -- the agreed categories: promoters 9-10, passives 7-8, detractors 0-6
        case
            when nps_score between 9 and 10 then 'promoter'
            when nps_score between 7 and 8 then 'passive'
            when nps_score between 0 and 6 then 'detractor'
        end as nps_category,
        case
            when nps_score between 9 and 10 then 1
            when nps_score between 7 and 8 then 0
            when nps_score between 0 and 6 then -1
        end as nps_points,
        csat_score,
        csat_score >= 4 as is_satisfied,
        member_id is not null as is_identified_member,
        comment_text_scrubbed is not null as has_comment,
        comment_text_scrubbed,
        _loaded_at

    from surveys

)

select * from final
