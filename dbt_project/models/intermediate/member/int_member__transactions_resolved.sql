{#-
    POS receipts with the golden member who made them.

    A receipt resolves through the card-number token scanned at the till, else the
    mobile token given instead of a card. A refund presented without a card inherits
    the member of the sale it refunds, so the refund nets against that member's spend
    (on the refund's own business date).
-#}
with

transactions as (

    select * from {{ ref('msk_pos__transactions') }}

),

identity_map as (

    select * from {{ ref('int_member__identity_map') }}

),

presented as (

    select
        transactions.*,
        card_identity.golden_member_id as card_member_id,
        mobile_identity.golden_member_id as mobile_member_id
    from transactions
    left join identity_map as card_identity
        on card_identity.identifier_type = 'card_no_token'
        and transactions.member_card_no_token = card_identity.identifier_value
    left join identity_map as mobile_identity
        on mobile_identity.identifier_type = 'mobile_token'
        and transactions.member_mobile_token = mobile_identity.identifier_value

),

resolved as (

    select
        presented.*,
        coalesce(presented.card_member_id, presented.mobile_member_id) as presented_member_id
    from presented

),

final as (

    select
        resolved.transaction_id,
        resolved.original_transaction_id,
        resolved.transaction_type,
        resolved.is_refund,
        resolved.store_id,
        resolved.terminal_id,
        resolved.coupon_code,
        resolved.payment_method,
        coalesce(resolved.presented_member_id, original.presented_member_id) as member_id,
        case
            when resolved.card_member_id is not null then 'card'
            when resolved.mobile_member_id is not null then 'mobile'
            when original.presented_member_id is not null then 'original_receipt'
            when resolved.is_member_receipt then 'unresolved'
            else 'anonymous'
        end as member_resolution,
        resolved.is_member_receipt,
        resolved.has_coupon,
        resolved.gross_amount,
        resolved.discount_amount,
        resolved.points_redeemed,
        resolved.points_redeemed_amount,
        resolved.net_amount,
        resolved.transaction_at,
        resolved.business_date,
        resolved._loaded_at
    from resolved
    left join resolved as original
        on resolved.is_refund
        and resolved.original_transaction_id = original.transaction_id

)

select * from final
