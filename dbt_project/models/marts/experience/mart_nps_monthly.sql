{#-
    NPS and CSAT per month, for the whole mall and broken down by store and by survey
    channel: one row per (month_start_date, breakdown, breakdown_value). Filter on
    one `breakdown` at a time; rows of different breakdowns overlap.
-#}

with

responses as (

    select * from {{ ref('fct_survey_responses') }}

),

labelled as (

    select
        month_start_date,
        coalesce(store_id, '(mall)') as store_key,
        survey_channel,
        nps_score,
        csat_score

    from responses

),

by_mall as (

    select
        month_start_date,
        'mall' as breakdown,
        'all' as breakdown_value,
        {{ nps_measures() }}
    from labelled
    group by month_start_date

),

by_store as (

    select
        month_start_date,
        'store' as breakdown,
        store_key as breakdown_value,
        {{ nps_measures() }}
    from labelled
    group by month_start_date, store_key

),

by_channel as (

    select
        month_start_date,
        'channel' as breakdown,
        survey_channel as breakdown_value,
        {{ nps_measures() }}
    from labelled
    group by month_start_date, survey_channel

),

unioned as (

    select * from by_mall
    union all
    select * from by_store
    union all
    select * from by_channel

),

final as (

    select
        {{ surrogate_key(['month_start_date', 'breakdown', 'breakdown_value']) }} as nps_monthly_id,
        month_start_date,
        cast(breakdown as {{ dbt.type_string() }}) as breakdown,
        cast(breakdown_value as {{ dbt.type_string() }}) as breakdown_value,
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
