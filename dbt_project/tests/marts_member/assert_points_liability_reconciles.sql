-- The outstanding points of the current month in mart_points_monthly equal all points
-- movements up to the as-of date, and its liability is points / var points_per_cny.
with

as_of as (

    select * from {{ ref('int_member__as_of_date') }}

),

ledger as (

    select sum(events.points) as points
    from {{ ref('fct_points_events') }} as events
    cross join as_of
    where events.business_date <= as_of.as_of_date

),

monthly as (

    select outstanding_points, outstanding_liability_amount
    from {{ ref('mart_points_monthly') }}
    where is_current_month

)

select *
from monthly
cross join ledger
where monthly.outstanding_points <> coalesce(ledger.points, 0)
    or abs(monthly.outstanding_liability_amount - cast(monthly.outstanding_points as {{ double_type() }}) / {{ var('points_per_cny') }}) > 0.01
