{#-
    The days member history is taken on: every month end of the POS history before
    the as-of date, and the as-of date itself (the current, possibly partial, month).
    One row per month.
-#}
with

transactions as (

    select * from {{ ref('msk_pos__transactions') }}

),

as_of as (

    select * from {{ ref('int_member__as_of_date') }}

),

month_ends as (

    select distinct {{ dbt.last_day('business_date', 'month') }} as snapshot_date
    from transactions

),

candidates as (

    select month_ends.snapshot_date
    from month_ends
    cross join as_of
    where month_ends.snapshot_date < as_of.as_of_date
    union all
    select as_of_date
    from as_of

),

final as (

    select
        cast(snapshot_date as date) as snapshot_date,
        cast({{ dbt.date_trunc('month', 'snapshot_date') }} as date) as snapshot_month,
        lag(cast(snapshot_date as date)) over (order by snapshot_date) as previous_snapshot_date,
        snapshot_date = max(snapshot_date) over () as is_current
    from candidates
    where snapshot_date is not null

)

select * from final
