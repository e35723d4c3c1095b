{{
    config(
        materialized=incremental_materialization(),
        incremental_strategy='delete+insert',
        unique_key='transaction_line_id',
        on_schema_change='append_new_columns',
    )
}}
{#-
    One row per POS line item with product, store, golden member, net revenue, cost
    and margin; refund lines are negative. Incremental on the later of the line's and
    its receipt's load time, with a lookback; lines of receipts not yet resolved to a
    member are re-processed.
-#}
{%- set unresolved_rows = 'stored_rows.member_id is null and (stored_rows.is_member_receipt'
    ~ ' or stored_rows.is_refund or stored_rows.transaction_type is null)' %}
-- depends_on: {{ ref('msk_pos__transactions') }}, {{ ref('msk_pos__transaction_lines') }}
with

{%- if is_incremental() %}

receipts_to_reprocess as (

    {{ pos_receipts_to_reprocess(unresolved_rows) }}

),

{%- endif %}

lines as (

    select * from {{ ref('int_member__transaction_lines_costed') }}
    {%- if is_incremental() %}
    where transaction_id in (select receipts_to_reprocess.transaction_id from receipts_to_reprocess)
    {%- endif %}

),

transactions as (

    select * from {{ ref('int_member__transactions_resolved') }}
    {%- if is_incremental() %}
    where transaction_id in (select receipts_to_reprocess.transaction_id from receipts_to_reprocess)
    {%- endif %}

),

joined as (

    select
        lines.transaction_line_id,
        lines.transaction_id,
        lines.line_no,
        transactions.transaction_type,
        coalesce(transactions.is_refund, lines.is_refund_line) as is_refund,
        transactions.member_id,
        transactions.is_member_receipt,
        transactions.store_id,
        lines.sku,
        lines.product_category,
        lines.brand,
        transactions.transaction_at,
        transactions.business_date,
        lines.quantity,
        lines.unit_price,
        lines.discount_amount,
        lines.gross_line_amount,
        lines.line_amount,
        lines.unit_cost,
        lines.cost_amount,
        lines.margin_amount,
        lines.has_product_cost,
        case
            when transactions._loaded_at is null or lines._loaded_at > transactions._loaded_at
                then lines._loaded_at
            else transactions._loaded_at
        end as _loaded_at
    from lines
    left join transactions
        on lines.transaction_id = transactions.transaction_id

),

final as (

    select
        transaction_line_id,
        transaction_id,
        line_no,
        transaction_type,
        is_refund,
        member_id,
        is_member_receipt,
        store_id,
        sku,
        product_category,
        brand,
        transaction_at,
        business_date,
        quantity,
        unit_price,
        discount_amount,
        gross_line_amount,
        line_amount as net_revenue_amount,
        unit_cost,
        cost_amount,
        margin_amount,
        has_product_cost,
        _loaded_at
    from joined
    {%- if is_incremental() %}
    where {{ incremental_lookback('_loaded_at') }}
        or transaction_id in (
            select stored_rows.transaction_id
            from {{ this }} as stored_rows
            where {{ unresolved_rows }}
        )
    {%- endif %}

)

select * from final
