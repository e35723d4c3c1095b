{#-
    Campaign ROI per campaign and arm: the SQL arithmetic of int_experience__campaign_arms
    joined to the significance tests that int_experience__campaign_significance computes
    with scipy. A SQL model so that the mart's contract is enforced.
-#}

with

arms as (

    select * from {{ ref('int_experience__campaign_arms') }}

),

significance as (

    select * from {{ ref('int_experience__campaign_significance') }}

),

final as (

    select
        arms.campaign_arm_id,
        arms.campaign_id,
        arms.arm,
        arms.is_treatment,
        arms.campaign_name,
        arms.campaign_channel,
        arms.target_segment,
        arms.start_date,
        arms.end_date,
        arms.campaign_days,
        arms.planned_control_share,
        arms.cost_amount,
        arms.member_count,
        arms.converted_count,
        arms.conversion_rate,
        arms.net_revenue_amount,
        arms.revenue_per_member,
        arms.revenue_variance,
        arms.margin_amount,
        arms.margin_per_member,
        arms.new_customer_count,
        arms.coupons_issued,
        arms.coupons_redeemed,
        arms.coupon_redemption_rate,
        arms.control_member_count,
        arms.control_converted_count,
        arms.control_conversion_rate,
        arms.control_revenue_per_member,
        arms.control_revenue_variance,
        arms.control_margin_per_member,
        arms.conversion_uplift,
        arms.conversion_uplift_ci_low,
        arms.conversion_uplift_ci_high,
        arms.incremental_conversions,
        arms.incremental_revenue_amount,
        arms.incremental_margin_amount,
        arms.roi,
        arms.cac_amount,
        significance.conversion_z,
        significance.conversion_p_value,
        significance.revenue_t,
        significance.revenue_df,
        significance.revenue_p_value,
        significance.srm_chi_square,
        significance.srm_p_value,
        significance.is_conversion_significant,
        significance.is_revenue_significant,
        significance.has_sample_ratio_mismatch
    from arms
    left join significance
        on arms.campaign_arm_id = significance.campaign_arm_id

)

select * from final
