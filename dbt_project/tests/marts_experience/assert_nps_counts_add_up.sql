-- NPS rows are internally consistent and the mall rows account for every response:
-- promoters + passives + detractors = NPS answers, the interval contains the score,
-- and the mall-level response count per month equals fct_survey_responses.
with

nps as (

    select * from {{ ref('mart_nps_monthly') }}

),

responses as (

    select month_start_date, count(*) as response_count
    from {{ ref('fct_survey_responses') }}
    group by month_start_date

),

inconsistent as (

    select nps_monthly_id, 'categories do not add up' as problem
    from nps
    where promoter_count + passive_count + detractor_count <> nps_response_count

    union all

    select nps_monthly_id, 'interval does not contain the score'
    from nps
    where nps is not null and not (nps_ci95_lower <= nps and nps <= nps_ci95_upper)

    union all

    select nps.nps_monthly_id, 'mall rows miss responses'
    from nps
    full outer join responses on nps.month_start_date = responses.month_start_date
    where nps.breakdown = 'mall'
      and coalesce(nps.response_count, -1) <> coalesce(responses.response_count, -1)

)

select * from inconsistent
