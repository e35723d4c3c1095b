{#-
    VIP members on the as-of date: rolling 12-month net spend at or above var
    `vip_threshold_cny` (default 5000 CNY). One row per VIP, for clienteling lists.
-#}
with

member_360 as (

    select * from {{ ref('mart_member_360') }}

),

final as (

    select
        member_id,
        as_of_date,
        full_name_masked,
        mobile_masked,
        tier,
        rolling_12m_spend,
        {{ cast_amount(var('vip_threshold_cny')) }} as vip_threshold_amount,
        orders_365d,
        average_order_value_365d,
        last_purchase_date,
        favourite_category,
        favourite_store_id,
        rfm_segment,
        rfm_class_label,
        lifecycle_stage,
        points_balance,
        churn_probability,
        predicted_clv,
        has_consent_marketing_sms,
        has_consent_marketing_wechat,
        has_consent_marketing_email
    from member_360
    where is_vip

)

select * from final
