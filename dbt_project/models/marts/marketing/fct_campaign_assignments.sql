{#-
    One row per campaign assignment (campaign x member): the arm and the member's
    outcome in the campaign window.
-#}

with

outcomes as (

    select * from {{ ref('int_experience__campaign_member_outcomes') }}

),

final as (

    select
        assignment_id,
        campaign_id,
        member_id,
        arm,
        is_treatment,
        assigned_at,
        start_date,
        end_date,
        sale_receipt_count,
        is_converted,
        net_revenue_amount,
        margin_amount,
        first_purchase_date,
        is_new_customer,
        coupons_issued,
        coupons_redeemed

    from outcomes

)

select * from final
