{{
    config(
        on_schema_change='fail',
        post_hook="{{ drop_stale_snapshot_dates() }}",
        **incremental_by_day('snapshot_date')
    )
}}
{#-
    Lifecycle stage of every registered golden member on each snapshot day (month
    ends and the as-of date), with thresholds from int_member__lifecycle_thresholds
    (A = active_within_days, D = dormant_after_days, C = churned_after_days) and
    d = days since the last purchase day:
      potential    registered, never bought (up to the snapshot day)
      new          first purchase at most A days ago
      reactivated  d <= A and the gap before the last purchase exceeded D
                   (came back after being dormant)
      active       d <= A otherwise
      declining    A < d <= D
      dormant      D < d <= C
      churned      d > C
    Also flags a purchase since the previous snapshot (the KPIs' numerators).

    Month-incremental (macros/incremental/snapshot_inputs.sql): a run rebuilds the
    snapshot days whose inputs changed (members registered by the day, member-days up
    to it, the previous snapshot day, the thresholds), normally just the as-of date.
-#}
with

members as (

    select * from {{ ref('int_member__members') }}

),

activity as (

    select * from {{ ref('int_member__daily_activity') }}
    where is_purchase_day

),

snapshots as (

    select * from {{ ref('int_member__snapshot_dates') }}

),

thresholds as (

    select * from {{ ref('int_member__lifecycle_thresholds') }}

),

activity_totals as (

    {{ daily_activity_totals(ref('int_member__daily_activity')) }}

),

registration_totals as (

    select
        registration_date,
        count(*) as members
    from members
    group by registration_date

),

activity_up_to_snapshot as (

    select
        snapshots.snapshot_date,
        count(activity_totals.business_date) as business_days,
        sum(activity_totals.member_days) as member_days,
        sum(activity_totals.members) as members,
        sum(activity_totals.sale_orders) as sale_orders,
        sum(activity_totals.refund_receipts) as refund_receipts,
        sum(activity_totals.net_spend_amount) as net_spend_amount,
        sum(activity_totals.gap_days) as gap_days
    from snapshots
    left join activity_totals
        on snapshots.snapshot_date >= activity_totals.business_date
    group by snapshots.snapshot_date

),

registrations_up_to_snapshot as (

    select
        snapshots.snapshot_date,
        sum(registration_totals.members) as members
    from snapshots
    left join registration_totals
        on snapshots.snapshot_date >= registration_totals.registration_date
    group by snapshots.snapshot_date

),

fingerprints as (

    select
        snapshots.snapshot_date,
        snapshots.previous_snapshot_date,
        {{ fingerprint([
            'snapshots.previous_snapshot_date',
            'thresholds.active_within_days',
            'thresholds.dormant_after_days',
            'thresholds.churned_after_days',
            'activity.business_days',
            'activity.member_days',
            'activity.members',
            'activity.sale_orders',
            'activity.refund_receipts',
            'activity.net_spend_amount',
            'activity.gap_days',
            'registrations.members',
        ]) }} as inputs_fingerprint
    from snapshots
    cross join thresholds
    inner join activity_up_to_snapshot as activity
        on snapshots.snapshot_date = activity.snapshot_date
    inner join registrations_up_to_snapshot as registrations
        on snapshots.snapshot_date = registrations.snapshot_date

),

rebuilt_snapshots as (

    {{ snapshot_dates_to_build('fingerprints') }}

),

member_snapshots as (

    select
        snapshots.snapshot_date,
        snapshots.previous_snapshot_date,
        members.member_id,
        members.registration_date,
        snapshots.inputs_fingerprint
    from members
    inner join rebuilt_snapshots as snapshots
        on members.registration_date <= snapshots.snapshot_date

),

history as (

    select
        member_snapshots.snapshot_date,
        member_snapshots.member_id,
        min(activity.business_date) as first_purchase_date,
        max(activity.business_date) as last_purchase_date,
        sum(case
            when member_snapshots.previous_snapshot_date is null
                or activity.business_date > member_snapshots.previous_snapshot_date
                then 1
            else 0
        end) as purchase_days_since_previous_snapshot
    from member_snapshots
    inner join activity
        on member_snapshots.member_id = activity.member_id
        and member_snapshots.snapshot_date >= activity.business_date
    group by member_snapshots.snapshot_date, member_snapshots.member_id

),

measured as (

    select
        member_snapshots.snapshot_date,
        member_snapshots.member_id,
        member_snapshots.registration_date,
        member_snapshots.inputs_fingerprint,
        history.first_purchase_date,
        history.last_purchase_date,
        last_purchase.days_since_previous_purchase as gap_before_last_purchase_days,
        {{ dbt.datediff('history.first_purchase_date', 'member_snapshots.snapshot_date', 'day') }}
            as days_since_first_purchase,
        {{ dbt.datediff('history.last_purchase_date', 'member_snapshots.snapshot_date', 'day') }}
            as days_since_last_purchase,
        coalesce(history.purchase_days_since_previous_snapshot, 0) > 0 as has_purchased_since_previous_snapshot
    from member_snapshots
    left join history
        on member_snapshots.snapshot_date = history.snapshot_date
        and member_snapshots.member_id = history.member_id
    left join activity as last_purchase
        on history.member_id = last_purchase.member_id
        and history.last_purchase_date = last_purchase.business_date

),

staged as (

    select
        measured.*,
        case
            when measured.last_purchase_date is null then 'potential'
            when measured.days_since_first_purchase <= thresholds.active_within_days then 'new'
            when measured.days_since_last_purchase <= thresholds.active_within_days
                and measured.gap_before_last_purchase_days > thresholds.dormant_after_days then 'reactivated'
            when measured.days_since_last_purchase <= thresholds.active_within_days then 'active'
            when measured.days_since_last_purchase <= thresholds.dormant_after_days then 'declining'
            when measured.days_since_last_purchase <= thresholds.churned_after_days then 'dormant'
            else 'churned'
        end as lifecycle_stage
    from measured
    cross join thresholds

),

final as (

    select
        {{ surrogate_key(['snapshot_date', 'member_id']) }} as lifecycle_snapshot_id,
        snapshot_date,
        member_id,
        registration_date,
        first_purchase_date,
        last_purchase_date,
        cast(days_since_last_purchase as {{ dbt.type_int() }}) as days_since_last_purchase,
        cast(gap_before_last_purchase_days as {{ dbt.type_int() }}) as gap_before_last_purchase_days,
        lifecycle_stage,
        has_purchased_since_previous_snapshot,
        inputs_fingerprint
    from staged

)

select * from final
