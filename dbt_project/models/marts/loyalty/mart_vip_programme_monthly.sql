{#-
    The VIP programme (VIP计划) per month against the plan's targets. A VIP is a member
    whose rolling 12-month spend reaches var `vip_threshold_cny` (macro loyalty_is_vip,
    as mart_vip_members), counted at the month end (int_loyalty__member_snapshots).

    - VIP count vs the same month a year before: target growth var `vip_count_growth_target`.
    - VIP repurchase rate: share of the VIPs of the previous month end who bought in the
      month; vs a year before, target growth var `vip_repurchase_growth_target` (relative).
    - VIP satisfaction: CSAT 4-5 share of the month's survey answers with a CSAT score by
      month-end VIPs (not NPS); target var `vip_satisfaction_target`.
    - Programme cost: the month-end VIPs' redeemed points (value) and redeemed coupons
      (face value) in the month.
    - Incremental VIP revenue of the members who became VIP in the month (VIP at this
      month end, not at the previous one): their mean change in monthly spend from the
      var `vip_incremental_window_months` months before to as many months after the
      month (the month itself left out), minus the same change of comparison members -
      not VIP at either month end, with a rolling spend of at least var
      `vip_comparison_min_share` of the threshold at the previous month end - times the
      new VIPs. A difference in differences against near-VIP members, not a randomized
      estimate: NULL until both windows are complete.
-#}
with

member_snapshots as (

    select * from {{ ref('int_loyalty__member_snapshots') }}

),

snapshots as (

    select * from {{ ref('int_member__snapshot_dates') }}

),

surveys as (

    select * from {{ ref('fct_survey_responses') }}
    where member_id is not null and csat_score is not null

),

points_events as (

    select * from {{ ref('fct_points_events') }}
    where entry_type = 'redeem'

),

coupon_events as (

    select * from {{ ref('fct_coupon_events') }}
    where is_redemption

),

identity_map as (

    select * from {{ ref('int_member__identity_map') }}
    where identifier_type = 'member_id'

),

{%- set window = var('vip_incremental_window_months') %}

vip_counts as (

    select
        snapshot_date,
        sum(case when is_vip then 1 else 0 end) as vip_count
    from member_snapshots
    group by snapshot_date

),

repurchase as (

    select
        snapshots.snapshot_date,
        count(*) as vip_repurchase_base,
        sum(case when current_month.month_sale_orders > 0 then 1 else 0 end) as vip_repurchasers
    from snapshots
    inner join member_snapshots as previous_month
        on snapshots.previous_snapshot_date = previous_month.snapshot_date
    left join member_snapshots as current_month
        on snapshots.snapshot_date = current_month.snapshot_date
        and previous_month.member_id = current_month.member_id
    where previous_month.is_vip
    group by snapshots.snapshot_date

),

benefits as (

    select
        points_events.member_id,
        points_events.business_date,
        -points_events.points_value_amount as points_redeemed_amount,
        0 as coupon_value_amount,
        0 as csat_answers,
        0 as satisfied_answers
    from points_events
    union all
    select
        coalesce(identity_map.golden_member_id, coupon_events.member_id) as member_id,
        coupon_events.business_date,
        0 as points_redeemed_amount,
        coalesce(coupon_events.coupon_value_amount, 0) as coupon_value_amount,
        0 as csat_answers,
        0 as satisfied_answers
    from coupon_events
    left join identity_map
        on coupon_events.member_id = identity_map.identifier_value
    union all
    select
        coalesce(identity_map.golden_member_id, surveys.member_id) as member_id,
        surveys.business_date,
        0 as points_redeemed_amount,
        0 as coupon_value_amount,
        1 as csat_answers,
        case when surveys.is_satisfied then 1 else 0 end as satisfied_answers
    from surveys
    left join identity_map
        on surveys.member_id = identity_map.identifier_value

),

vip_month as (

    select
        snapshots.snapshot_date,
        sum(benefits.points_redeemed_amount) as vip_points_redeemed_amount,
        sum(benefits.coupon_value_amount) as vip_coupon_value_amount,
        sum(benefits.csat_answers) as vip_csat_answers,
        sum(benefits.satisfied_answers) as vip_satisfied_answers
    from snapshots
    inner join benefits
        on snapshots.snapshot_date >= benefits.business_date
        and (
            snapshots.previous_snapshot_date is null
            or snapshots.previous_snapshot_date < benefits.business_date
        )
    inner join member_snapshots
        on snapshots.snapshot_date = member_snapshots.snapshot_date
        and benefits.member_id = member_snapshots.member_id
    where member_snapshots.is_vip
    group by snapshots.snapshot_date

),

transitions as (

    select
        current_month.snapshot_month as cohort_month,
        current_month.member_id,
        current_month.is_vip as became_vip
    from member_snapshots as current_month
    inner join snapshots
        on current_month.snapshot_date = snapshots.snapshot_date
    inner join member_snapshots as previous_month
        on snapshots.previous_snapshot_date = previous_month.snapshot_date
        and current_month.member_id = previous_month.member_id
    where not previous_month.is_vip
        and (
            current_month.is_vip
            or previous_month.rolling_12m_spend
            >= {{ var('vip_comparison_min_share') }} * {{ var('vip_threshold_cny') }}
        )

),

spend_changes as (

    select
        transitions.cohort_month,
        transitions.member_id,
        transitions.became_vip,
        sum(case
            when around.snapshot_month > transitions.cohort_month then around.month_spend_amount
            else -around.month_spend_amount
        end) as spend_change
    from transitions
    inner join member_snapshots as around
        on transitions.member_id = around.member_id
        and transitions.cohort_month <= {{ dbt.dateadd('month', window, 'around.snapshot_month') }}
        and transitions.cohort_month >= {{ dbt.dateadd('month', -window, 'around.snapshot_month') }}
        and transitions.cohort_month <> around.snapshot_month
    group by transitions.cohort_month, transitions.member_id, transitions.became_vip

),

complete_months as (

    select
        min(snapshot_month) as first_month,
        max(case when not is_current then snapshot_month end) as last_complete_month
    from snapshots

),

cohorts as (

    select
        spend_changes.cohort_month,
        sum(case when spend_changes.became_vip then 1 else 0 end) as new_vip_count,
        sum(case when spend_changes.became_vip then 0 else 1 end) as comparison_member_count,
        avg(case when spend_changes.became_vip then spend_changes.spend_change end) as new_vip_spend_change,
        avg(case when not spend_changes.became_vip then spend_changes.spend_change end) as comparison_spend_change
    from spend_changes
    cross join complete_months
    where {{ dbt.dateadd('month', -window, 'spend_changes.cohort_month') }} >= complete_months.first_month
        and {{ dbt.dateadd('month', window, 'spend_changes.cohort_month') }} <= complete_months.last_complete_month
    group by spend_changes.cohort_month

),

measured as (

    select
        snapshots.snapshot_month,
        snapshots.snapshot_date,
        snapshots.is_current,
        coalesce(vip_counts.vip_count, 0) as vip_count,
        repurchase.vip_repurchase_base,
        repurchase.vip_repurchasers,
        cast(repurchase.vip_repurchasers as {{ double_type() }})
        / nullif(repurchase.vip_repurchase_base, 0) as vip_repurchase_rate,
        coalesce(vip_month.vip_csat_answers, 0) as vip_csat_answers,
        coalesce(vip_month.vip_satisfied_answers, 0) as vip_satisfied_answers,
        cast(vip_month.vip_satisfied_answers as {{ double_type() }})
        / nullif(vip_month.vip_csat_answers, 0) as vip_satisfaction_rate,
        coalesce(vip_month.vip_points_redeemed_amount, 0) as vip_points_redeemed_amount,
        coalesce(vip_month.vip_coupon_value_amount, 0) as vip_coupon_value_amount,
        cohorts.new_vip_count,
        cohorts.comparison_member_count,
        cohorts.new_vip_spend_change,
        cohorts.comparison_spend_change,
        cohorts.new_vip_spend_change - cohorts.comparison_spend_change as incremental_revenue_per_new_vip
    from snapshots
    left join vip_counts
        on snapshots.snapshot_date = vip_counts.snapshot_date
    left join repurchase
        on snapshots.snapshot_date = repurchase.snapshot_date
    left join vip_month
        on snapshots.snapshot_date = vip_month.snapshot_date
    left join cohorts
        on snapshots.snapshot_month = cohorts.cohort_month

),

final as (

    select
        this_year.snapshot_month,
        this_year.snapshot_date,
        this_year.is_current as is_current_month,
        cast(this_year.vip_count as {{ dbt.type_int() }}) as vip_count,
        cast(last_year.vip_count as {{ dbt.type_int() }}) as vip_count_last_year,
        cast(
            cast(this_year.vip_count as {{ double_type() }}) / nullif(last_year.vip_count, 0) - 1
            as {{ double_type() }}
        ) as vip_count_growth,
        cast({{ var('vip_count_growth_target') }} as {{ double_type() }}) as vip_count_growth_target,
        cast(this_year.vip_count as {{ double_type() }}) / nullif(last_year.vip_count, 0) - 1
        >= {{ var('vip_count_growth_target') }} as is_vip_count_on_target,
        cast(this_year.vip_repurchase_base as {{ dbt.type_int() }}) as vip_repurchase_base,
        cast(this_year.vip_repurchasers as {{ dbt.type_int() }}) as vip_repurchasers,
        cast(this_year.vip_repurchase_rate as {{ double_type() }}) as vip_repurchase_rate,
        cast(last_year.vip_repurchase_rate as {{ double_type() }}) as vip_repurchase_rate_last_year,
        cast(
            this_year.vip_repurchase_rate / nullif(last_year.vip_repurchase_rate, 0) - 1 as {{ double_type() }}
        ) as vip_repurchase_growth,
        cast({{ var('vip_repurchase_growth_target') }} as {{ double_type() }}) as vip_repurchase_growth_target,
        this_year.vip_repurchase_rate / nullif(last_year.vip_repurchase_rate, 0) - 1
        >= {{ var('vip_repurchase_growth_target') }} as is_vip_repurchase_on_target,
        cast(this_year.vip_csat_answers as {{ dbt.type_int() }}) as vip_csat_answers,
        cast(this_year.vip_satisfied_answers as {{ dbt.type_int() }}) as vip_satisfied_answers,
        cast(this_year.vip_satisfaction_rate as {{ double_type() }}) as vip_satisfaction_rate,
        cast({{ var('vip_satisfaction_target') }} as {{ double_type() }}) as vip_satisfaction_target,
        this_year.vip_satisfaction_rate >= {{ var('vip_satisfaction_target') }} as is_vip_satisfaction_on_target,
        {{ cast_amount('this_year.vip_points_redeemed_amount') }} as vip_points_redeemed_amount,
        {{ cast_amount('this_year.vip_coupon_value_amount') }} as vip_coupon_value_amount,
        {{ cast_amount('this_year.vip_points_redeemed_amount + this_year.vip_coupon_value_amount') }}
            as programme_cost_amount,
        cast(this_year.new_vip_count as {{ dbt.type_int() }}) as new_vip_count,
        cast(this_year.comparison_member_count as {{ dbt.type_int() }}) as comparison_member_count,
        {{ cast_amount('this_year.new_vip_spend_change') }} as new_vip_spend_change_amount,
        {{ cast_amount('this_year.comparison_spend_change') }} as comparison_spend_change_amount,
        {{ cast_amount('this_year.incremental_revenue_per_new_vip') }} as incremental_revenue_per_new_vip_amount,
        {{ cast_amount('this_year.incremental_revenue_per_new_vip * this_year.new_vip_count') }}
            as incremental_vip_revenue_amount
    from measured as this_year
    left join measured as last_year
        on this_year.snapshot_month = {{ dbt.dateadd('month', 12, 'last_year.snapshot_month') }}

)

select * from final
