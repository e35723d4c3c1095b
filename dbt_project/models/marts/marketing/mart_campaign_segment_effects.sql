{#-
    Campaign effects per member segment: who responds? One row per campaign and RFM
    segment with both arms present. A member's segment is the one of the latest monthly
    RFM snapshot before the campaign started (int_member__rfm_snapshots, by golden
    member), or 'no_purchase_history' without one, so the segment cannot be moved by the
    campaign itself. Conversion uplift (treatment - control) with Newcombe's 95%
    interval from the arms' Wilson bounds (the macros of int_experience__campaign_arms),
    and the revenue uplift per member. Segments are small: read the intervals, not the
    point estimates. Pooled: the treatment arms of a multi-arm test count as one treated
    arm against the control (split further, segments would be smaller still).
-#}

with

outcomes as (

    select * from {{ ref('int_experience__campaign_member_outcomes') }}

),

identity_map as (

    select * from {{ ref('int_member__identity_map') }}

),

rfm_snapshots as (

    select * from {{ ref('int_member__rfm_snapshots') }}

),

golden_members as (

    select
        identifier_value as member_id,
        golden_member_id
    from identity_map
    where identifier_type = 'member_id'

),

assigned as (

    select
        outcomes.assignment_id,
        outcomes.campaign_id,
        case when outcomes.arm = 'control' then 'control' else 'treatment' end as arm,
        outcomes.is_converted,
        outcomes.net_revenue_amount,
        outcomes.start_date,
        coalesce(golden_members.golden_member_id, outcomes.member_id) as golden_member_id
    from outcomes
    left join golden_members on outcomes.member_id = golden_members.member_id

),

segment_candidates as (

    select
        assigned.assignment_id,
        rfm_snapshots.rfm_segment,
        row_number() over (
            partition by assigned.assignment_id
            order by rfm_snapshots.snapshot_date desc
        ) as recency_rank
    from assigned
    inner join rfm_snapshots
        on assigned.golden_member_id = rfm_snapshots.member_id
        and assigned.start_date > rfm_snapshots.snapshot_date

),

segmented as (

    select
        assigned.campaign_id,
        assigned.arm,
        assigned.is_converted,
        assigned.net_revenue_amount,
        coalesce(segment_candidates.rfm_segment, 'no_purchase_history') as rfm_segment
    from assigned
    left join segment_candidates
        on assigned.assignment_id = segment_candidates.assignment_id
        and segment_candidates.recency_rank = 1

),

arms as (

    select
        campaign_id,
        rfm_segment,
        arm,
        count(*) as member_count,
        cast(sum(case when is_converted then 1 else 0 end) as {{ double_type() }}) / count(*) as conversion_rate,
        avg(cast(net_revenue_amount as {{ double_type() }})) as revenue_per_member
    from segmented
    group by campaign_id, rfm_segment, arm

),

bounded as (

    select
        *,
        {{ wilson_bound('conversion_rate', 'member_count', 'low') }} as conversion_rate_low,
        {{ wilson_bound('conversion_rate', 'member_count', 'high') }} as conversion_rate_high
    from arms

),

compared as (

    select
        treatment.campaign_id,
        treatment.rfm_segment,
        treatment.member_count as treatment_member_count,
        control.member_count as control_member_count,
        treatment.conversion_rate as treatment_conversion_rate,
        control.conversion_rate as control_conversion_rate,
        treatment.conversion_rate - control.conversion_rate as conversion_uplift,
        {{ newcombe_margin(
            'treatment.conversion_rate', 'treatment.conversion_rate_low', 'treatment.conversion_rate_high',
            'control.conversion_rate', 'control.conversion_rate_low', 'control.conversion_rate_high', 'below'
        ) }} as uplift_below,
        {{ newcombe_margin(
            'treatment.conversion_rate', 'treatment.conversion_rate_low', 'treatment.conversion_rate_high',
            'control.conversion_rate', 'control.conversion_rate_low', 'control.conversion_rate_high', 'above'
        ) }} as uplift_above,
        treatment.revenue_per_member - control.revenue_per_member as revenue_uplift_per_member
    from bounded as treatment
    inner join bounded as control
        on treatment.campaign_id = control.campaign_id
        and treatment.rfm_segment = control.rfm_segment
        and treatment.arm = 'treatment'
        and control.arm = 'control'

),

final as (

    select
        {{ surrogate_key(['campaign_id', 'rfm_segment']) }} as campaign_segment_id,
        campaign_id,
        rfm_segment,
        cast(treatment_member_count as {{ dbt.type_bigint() }}) as treatment_member_count,
        cast(control_member_count as {{ dbt.type_bigint() }}) as control_member_count,
        treatment_conversion_rate,
        control_conversion_rate,
        conversion_uplift,
        conversion_uplift - uplift_below as conversion_uplift_ci_low,
        conversion_uplift + uplift_above as conversion_uplift_ci_high,
        revenue_uplift_per_member
    from compared

)

select * from final
