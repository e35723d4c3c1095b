{#-
    Campaign results per arm, with the ROI arithmetic of the agreed definition.
    One row per (campaign_id, arm). Comparison columns (incremental_*, roi, cac, the
    control arm's figures) are filled on the treatment rows only - the effect of each
    treatment arm over the campaign's one control arm - and NULL on the control row, so
    sums over rows never double count. A two-arm campaign has one treatment row
    ('treatment'); a multi-arm test one per arm ('treatment_a', 'treatment_b', ...), each
    compared with the shared control, its incremental figures scaled to its own size.
    The campaign's cost is attributed to the treatment arms in proportion to their
    members (all of it to 'treatment' in a two-arm campaign).

      incremental revenue = (revenue per treated member - revenue per control member)
                            * treated members          (scaled to treatment size)
      incremental margin  = same with margin
      ROI                 = (incremental margin - cost) / cost
      CAC                 = cost / new customers in the treatment arm
                            (members whose first purchase ever is in the window;
                            NULL when the POS history is too short to tell)
    Significance tests (z, Welch t, sample-ratio chi-square) are computed in
    int_experience__campaign_significance (Python, scipy) from the sufficient statistics here (counts, means, variances).
-#}

with

outcomes as (

    select * from {{ ref('int_experience__campaign_member_outcomes') }}

),

campaigns as (

    select * from {{ ref('msk_marketing__campaigns') }}

),

arms as (

    select
        campaign_id,
        arm,
        count(*) as member_count,
        sum(case when is_converted then 1 else 0 end) as converted_count,
        sum(net_revenue_amount) as net_revenue_amount,
        avg(cast(net_revenue_amount as {{ double_type() }})) as revenue_per_member,
        var_samp(cast(net_revenue_amount as {{ double_type() }})) as revenue_variance,
        sum(margin_amount) as margin_amount,
        avg(cast(margin_amount as {{ double_type() }})) as margin_per_member,
        -- NULL when new customers cannot be told (POS history too short before the campaign)
        case
            when count(is_new_customer) > 0 then sum(case when is_new_customer then 1 else 0 end)
        end as new_customer_count,
        sum(coupons_issued) as coupons_issued,
        sum(coupons_redeemed) as coupons_redeemed

    from outcomes
    group by campaign_id, arm

),

treated as (

    select
        campaign_id,
        count(*) as treatment_arm_count,
        sum(member_count) as treated_member_count
    from arms
    where arm <> 'control'
    group by campaign_id

),

with_campaign as (

    select
        arms.*,
        cast(arms.converted_count as {{ double_type() }}) / arms.member_count as conversion_rate,
        -- planned (the campaign export's treatment_arms), else the arms seen in the assignments
        coalesce(campaigns.treatment_arms, treated.treatment_arm_count, 0) as treatment_arm_count,
        treated.treated_member_count,
        campaigns.campaign_name,
        campaigns.campaign_channel,
        campaigns.target_segment,
        campaigns.start_date,
        campaigns.end_date,
        campaigns.campaign_days,
        campaigns.control_share,
        campaigns.cost_amount as campaign_cost_amount

    from arms
    inner join campaigns on arms.campaign_id = campaigns.campaign_id
    left join treated on arms.campaign_id = treated.campaign_id

),

-- Wilson score interval (95%, z = 1.96, z^2 = 3.8416) of each arm's conversion rate:
-- the building block of Newcombe's interval for the uplift below, which holds for small
-- arms and rates near 0 or 1, where the normal approximation does not.
bounded as (

    select
        *,
        {{ wilson_bound('conversion_rate', 'member_count', 'low') }} as conversion_rate_low,
        {{ wilson_bound('conversion_rate', 'member_count', 'high') }} as conversion_rate_high

    from with_campaign

),

compared as (

    select
        treatment_or_control.*,
        control.conversion_rate_low as control_conversion_rate_low,
        control.conversion_rate_high as control_conversion_rate_high,
        control.member_count as control_member_count,
        control.converted_count as control_converted_count,
        control.conversion_rate as control_conversion_rate,
        control.revenue_per_member as control_revenue_per_member,
        control.revenue_variance as control_revenue_variance,
        control.margin_per_member as control_margin_per_member

    from bounded as treatment_or_control
    left join bounded as control
        on treatment_or_control.campaign_id = control.campaign_id
        and treatment_or_control.arm <> 'control'
        and control.arm = 'control'

),

effects as (

    select
        *,
        case
            when arm <> 'control' then campaign_cost_amount * member_count / treated_member_count else 0
        end as cost_amount,
        (conversion_rate - control_conversion_rate) * member_count as incremental_conversions,
        (revenue_per_member - control_revenue_per_member) * member_count as incremental_revenue,
        (margin_per_member - control_margin_per_member) * member_count as incremental_margin,
        -- Newcombe's hybrid score interval (method 10) of the uplift, from the arms' Wilson bounds
        {{ newcombe_margin(
            'conversion_rate', 'conversion_rate_low', 'conversion_rate_high',
            'control_conversion_rate', 'control_conversion_rate_low', 'control_conversion_rate_high', 'below'
        ) }} as conversion_uplift_below,
        {{ newcombe_margin(
            'conversion_rate', 'conversion_rate_low', 'conversion_rate_high',
            'control_conversion_rate', 'control_conversion_rate_low', 'control_conversion_rate_high', 'above'
        ) }} as conversion_uplift_above

    from compared

),

final as (

    select
        {{ surrogate_key(['campaign_id', 'arm']) }} as campaign_arm_id,
        campaign_id,
        arm,
        arm <> 'control' as is_treatment,
        cast(treatment_arm_count as {{ dbt.type_int() }}) as treatment_arm_count,
        campaign_name,
        campaign_channel,
        target_segment,
        start_date,
        end_date,
        campaign_days,
        cast(control_share as {{ double_type() }}) as planned_control_share,
        {{ cast_amount('cost_amount') }} as cost_amount,
        cast(member_count as {{ dbt.type_int() }}) as member_count,
        cast(converted_count as {{ dbt.type_int() }}) as converted_count,
        cast(conversion_rate as {{ double_type() }}) as conversion_rate,
        {{ cast_amount('net_revenue_amount') }} as net_revenue_amount,
        cast(revenue_per_member as {{ double_type() }}) as revenue_per_member,
        cast(revenue_variance as {{ double_type() }}) as revenue_variance,
        {{ cast_amount('margin_amount') }} as margin_amount,
        cast(margin_per_member as {{ double_type() }}) as margin_per_member,
        cast(new_customer_count as {{ dbt.type_int() }}) as new_customer_count,
        cast(coupons_issued as {{ dbt.type_int() }}) as coupons_issued,
        cast(coupons_redeemed as {{ dbt.type_int() }}) as coupons_redeemed,
        cast(
            cast(coupons_redeemed as {{ double_type() }}) / nullif(coupons_issued, 0)
            as {{ double_type() }}
        ) as coupon_redemption_rate,
        cast(control_member_count as {{ dbt.type_int() }}) as control_member_count,
        cast(control_converted_count as {{ dbt.type_int() }}) as control_converted_count,
        cast(control_conversion_rate as {{ double_type() }}) as control_conversion_rate,
        cast(control_revenue_per_member as {{ double_type() }}) as control_revenue_per_member,
        cast(control_revenue_variance as {{ double_type() }}) as control_revenue_variance,
        cast(control_margin_per_member as {{ double_type() }}) as control_margin_per_member,
        cast(conversion_rate - control_conversion_rate as {{ double_type() }}) as conversion_uplift,
        cast(
            conversion_rate - control_conversion_rate - conversion_uplift_below as {{ double_type() }}
        ) as conversion_uplift_ci_low,
        cast(
            conversion_rate - control_conversion_rate + conversion_uplift_above as {{ double_type() }}
        ) as conversion_uplift_ci_high,
        cast(incremental_conversions as {{ double_type() }}) as incremental_conversions,
        cast(incremental_revenue as {{ double_type() }}) as incremental_revenue_amount,
        cast(incremental_margin as {{ double_type() }}) as incremental_margin_amount,
        cast(
            (incremental_margin - cost_amount) / nullif(cost_amount, 0)
            as {{ double_type() }}
        ) as roi,
        cast(
            case when arm <> 'control' then cost_amount / nullif(new_customer_count, 0) end
            as {{ double_type() }}
        ) as cac_amount

    from effects

)

select * from final
