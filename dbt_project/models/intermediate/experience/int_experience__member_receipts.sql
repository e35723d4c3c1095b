{#-
    Member receipts (sales and refunds) with the member resolved from the masked POS
    identifiers, and the receipt's cost of goods and margin. The marketing marts need
    per-member purchases; this model derives them from the masked layer itself.

    Member resolution: the card token scanned at checkout, else the mobile token given
    instead (only when it identifies exactly one member). Tokens are the privacy layer's
    deterministic pseudonyms, equal for equal values across systems.
    Revenue follows fct_transactions: net revenue = gross - discount (loyalty points are
    a means of payment, not a discount), margin = net revenue - cost of goods (sum of
    quantity * unit_cost of the lines; unknown SKUs count at zero cost, see
    has_unknown_cost). `paid_amount` is what the customer paid (net of points).
-#}

with

transactions as (

    select * from {{ ref('msk_pos__transactions') }}

),

lines as (

    select * from {{ ref('msk_pos__transaction_lines') }}

),

products as (

    select * from {{ ref('msk_reference__products') }}

),

members as (

    select * from {{ ref('msk_membership__members') }}

),

card_members as (

    select card_no_token, min(member_id) as member_id
    from members
    where card_no_token is not null
    group by card_no_token
    having count(*) = 1

),

mobile_members as (

    select mobile_token, min(member_id) as member_id
    from members
    where mobile_token is not null
    group by mobile_token
    having count(*) = 1

),

receipt_costs as (

    select
        lines.transaction_id,
        sum(lines.quantity * coalesce(products.unit_cost, 0)) as cost_of_goods_amount,
        max(case when products.sku is null then 1 else 0 end) as unknown_cost_flag

    from lines
    left join products on lines.sku = products.sku
    group by lines.transaction_id

),

resolved as (

    select
        transactions.transaction_id,
        coalesce(card_members.member_id, mobile_members.member_id) as member_id,
        case
            when card_members.member_id is not null then 'card'
            when mobile_members.member_id is not null then 'mobile'
        end as member_match,
        transactions.store_id,
        transactions.transaction_type,
        transactions.is_refund,
        transactions.coupon_code,
        transactions.transaction_at,
        transactions.business_date,
        transactions.gross_amount - transactions.discount_amount as net_revenue_amount,
        transactions.net_amount as paid_amount,
        coalesce(receipt_costs.cost_of_goods_amount, 0) as cost_of_goods_amount,
        coalesce(receipt_costs.unknown_cost_flag, 1) = 1 as has_unknown_cost

    from transactions
    left join card_members
        on transactions.member_card_no_token = card_members.card_no_token
    left join mobile_members
        on transactions.member_mobile_token = mobile_members.mobile_token
    left join receipt_costs
        on transactions.transaction_id = receipt_costs.transaction_id
    where transactions.is_member_receipt

),

final as (

    select
        transaction_id,
        member_id,
        member_match,
        store_id,
        transaction_type,
        is_refund,
        coupon_code,
        transaction_at,
        business_date,
        {{ cast_amount('net_revenue_amount') }} as net_revenue_amount,
        paid_amount,
        {{ cast_amount('cost_of_goods_amount') }} as cost_of_goods_amount,
        {{ cast_amount('net_revenue_amount - cost_of_goods_amount') }} as margin_amount,
        has_unknown_cost

    from resolved
    where member_id is not null

)

select * from final
