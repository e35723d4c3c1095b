{{
    config(
        materialized=incremental_materialization(),
        incremental_strategy='delete+insert',
        unique_key='coupon_event_id',
        on_schema_change='append_new_columns'
    )
}}

{#- One row per coupon event (issue or redemption), with its campaign's coupon terms. -#}

with

coupon_events as (

    select * from {{ ref('msk_marketing__coupon_events') }}
    {%- if is_incremental() %}
    where {{ incremental_lookback('_loaded_at') }}
    {%- endif %}

),

campaigns as (

    select * from {{ ref('msk_marketing__campaigns') }}

),

final as (

    select
        coupon_events.coupon_event_id,
        coupon_events.coupon_code,
        coupon_events.campaign_id,
        coupon_events.member_id,
        coupon_events.event_type,
        coupon_events.is_redemption,
        coupon_events.event_at,
        coupon_events.business_date,
        coupon_events.transaction_id,
        coupon_events.store_id,
        campaigns.coupon_value_amount,
        campaigns.min_spend_amount,
        coupon_events.business_date between campaigns.start_date and campaigns.end_date
            as is_in_campaign_window,
        coupon_events._loaded_at

    from coupon_events
    left join campaigns on coupon_events.campaign_id = campaigns.campaign_id

)

select * from final
