{#-
    POS line items with the product's unit cost (latest reference snapshot), so the
    sales facts can report margin. Refund lines carry negative quantities, hence
    negative revenue, cost and margin.
-#}
with

lines as (

    select * from {{ ref('msk_pos__transaction_lines') }}

),

products as (

    select * from {{ ref('msk_reference__products') }}

),

final as (

    select
        lines.transaction_line_id,
        lines.transaction_id,
        lines.line_no,
        lines.sku,
        products.product_category,
        products.brand,
        lines.quantity,
        lines.unit_price,
        lines.discount_amount,
        lines.gross_line_amount,
        lines.line_amount,
        products.unit_cost,
        {{ cast_amount('lines.quantity * products.unit_cost') }} as cost_amount,
        {{ cast_amount('lines.line_amount - lines.quantity * products.unit_cost') }} as margin_amount,
        products.sku is not null as has_product_cost,
        lines.is_refund_line,
        lines._loaded_at
    from lines
    left join products
        on lines.sku = products.sku

)

select * from final
