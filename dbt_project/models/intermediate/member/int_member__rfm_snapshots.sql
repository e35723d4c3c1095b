{{
    config(
        on_schema_change='fail',
        post_hook="{{ drop_stale_snapshot_dates() }}",
        **incremental_by_day('snapshot_date')
    )
}}
{#-
    RFM of every member who bought in the window (var `rfm_window_days`, default 365)
    ending on each snapshot day (month ends and the as-of date).

    recency_days = days from the last purchase day to the snapshot day; frequency =
    sale receipts in the window; monetary = net spend in the window (refunds netted).

    Quintile scores 1-5 by rank within the snapshot: score = 1 + floor(5 * (rank - 1) / n),
    ties share a score; R ranks the longest recency first (most recent = 5), F and M the
    smallest value first. Named segment from R and FM = ceil((F + M) / 2), see macro
    rfm_segment. 8-class: each of R, F, M is high when it beats the snapshot's
    population mean (R: fewer days than the mean recency).

    Month-incremental (macros/incremental/snapshot_inputs.sql): a run rebuilds the
    snapshot days whose window's member-days changed, normally just the as-of date.
-#}
with

activity as (

    select * from {{ ref('int_member__daily_activity') }}

),

all_snapshots as (

    select * from {{ ref('int_member__snapshot_dates') }}

),

activity_totals as (

    {{ daily_activity_totals(ref('int_member__daily_activity')) }}

),

activity_in_window as (

    select
        all_snapshots.snapshot_date,
        count(activity_totals.business_date) as business_days,
        sum(activity_totals.member_days) as member_days,
        sum(activity_totals.members) as members,
        sum(activity_totals.sale_orders) as sale_orders,
        sum(activity_totals.refund_receipts) as refund_receipts,
        sum(activity_totals.net_spend_amount) as net_spend_amount
    from all_snapshots
    left join activity_totals
        on all_snapshots.snapshot_date >= activity_totals.business_date
        and activity_totals.business_date
        > {{ dbt.dateadd('day', -1 * var('rfm_window_days'), 'all_snapshots.snapshot_date') }}
    group by all_snapshots.snapshot_date

),

fingerprints as (

    select
        snapshot_date,
        {{ fingerprint([
            var('rfm_window_days'),
            'business_days',
            'member_days',
            'members',
            'sale_orders',
            'refund_receipts',
            'net_spend_amount',
        ]) }} as inputs_fingerprint
    from activity_in_window

),

snapshots as (

    {{ snapshot_dates_to_build('fingerprints') }}

),

windowed as (

    select
        snapshots.snapshot_date,
        snapshots.inputs_fingerprint,
        activity.member_id,
        max(case when activity.is_purchase_day then activity.business_date end) as last_purchase_date,
        sum(activity.sale_orders) as frequency,
        sum(activity.net_spend_amount) as monetary_amount
    from snapshots
    inner join activity
        on snapshots.snapshot_date >= activity.business_date
        and activity.business_date > {{ dbt.dateadd('day', -1 * var('rfm_window_days'), 'snapshots.snapshot_date') }}
    group by snapshots.snapshot_date, snapshots.inputs_fingerprint, activity.member_id

),

measured as (

    select
        snapshot_date,
        inputs_fingerprint,
        member_id,
        last_purchase_date,
        {{ dbt.datediff('last_purchase_date', 'snapshot_date', 'day') }} as recency_days,  -- noqa: LT05
        frequency,
        monetary_amount
    from windowed
    where last_purchase_date is not null

),

ranked as (

    select
        *,
        count(*) over (partition by snapshot_date) as population,
        rank() over (partition by snapshot_date order by recency_days desc) as recency_rank,
        rank() over (partition by snapshot_date order by frequency) as frequency_rank,
        rank() over (partition by snapshot_date order by monetary_amount) as monetary_rank,
        {{ avg_double('recency_days') }} over (partition by snapshot_date) as mean_recency_days,
        {{ avg_double('frequency') }} over (partition by snapshot_date) as mean_frequency,
        {{ avg_double('monetary_amount') }} over (partition by snapshot_date) as mean_monetary_amount
    from measured

),

scored as (

    select
        *,
        cast(1 + floor(5.0 * (recency_rank - 1) / population) as {{ dbt.type_int() }}) as r_score,
        cast(1 + floor(5.0 * (frequency_rank - 1) / population) as {{ dbt.type_int() }}) as f_score,
        cast(1 + floor(5.0 * (monetary_rank - 1) / population) as {{ dbt.type_int() }}) as m_score,
        recency_days < mean_recency_days as is_r_high,
        frequency > mean_frequency as is_f_high,
        monetary_amount > mean_monetary_amount as is_m_high
    from ranked

),

classed as (

    select
        scored.*,
        {{ rfm_fm_score('f_score', 'm_score') }} as fm_score,
        {{ dbt.concat([
            "case when is_r_high then 'H' else 'L' end",
            "case when is_f_high then 'H' else 'L' end",
            "case when is_m_high then 'H' else 'L' end",
        ]) }} as rfm_class_code
    from scored

),

final as (

    select
        {{ surrogate_key(['snapshot_date', 'member_id']) }} as rfm_snapshot_id,
        snapshot_date,
        member_id,
        last_purchase_date,
        cast(recency_days as {{ dbt.type_int() }}) as recency_days,
        cast(frequency as {{ dbt.type_int() }}) as frequency,
        {{ cast_amount('monetary_amount') }} as monetary_amount,
        r_score,
        f_score,
        m_score,
        fm_score,
        {{ dbt.concat([
            dbt.safe_cast('r_score', dbt.type_string()),
            dbt.safe_cast('f_score', dbt.type_string()),
            dbt.safe_cast('m_score', dbt.type_string()),
        ]) }} as rfm_cell,
        {{ rfm_segment('r_score', 'fm_score') }} as rfm_segment,
        is_r_high,
        is_f_high,
        is_m_high,
        rfm_class_code,
        {{ rfm_class_label('rfm_class_code') }} as rfm_class_label,
        cast(mean_recency_days as decimal(18, 4)) as mean_recency_days,
        cast(mean_frequency as decimal(18, 4)) as mean_frequency,
        cast(mean_monetary_amount as decimal(18, 4)) as mean_monetary_amount,
        inputs_fingerprint
    from classed

)

select * from final
