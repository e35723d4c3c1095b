{{
    config(
        materialized=incremental_materialization(),
        incremental_strategy='delete+insert',
        unique_key='transaction_id',
        on_schema_change='append_new_columns',
    )
}}
{#-
    One row per POS receipt (sale or refund) with the golden member, net revenue, cost
    and margin. Incremental: receipts loaded (or whose lines were loaded) within the
    lookback of the latest load already in the table are re-processed, and so are
    member receipts and refunds that did not resolve to a member yet (the member export
    may arrive after the receipt).
-#}
{%- set unresolved_rows = 'stored_rows.member_id is null'
    ~ ' and (stored_rows.is_member_receipt or stored_rows.is_refund)' %}
-- depends_on: {{ ref('msk_pos__transactions') }}, {{ ref('msk_pos__transaction_lines') }}
with

{%- if is_incremental() %}

receipts_to_reprocess as (

    {{ pos_receipts_to_reprocess(unresolved_rows) }}

),

{%- endif %}

transactions as (

    select * from {{ ref('int_member__transactions_resolved') }}
    {%- if is_incremental() %}
    where transaction_id in (select receipts_to_reprocess.transaction_id from receipts_to_reprocess)
    {%- endif %}

),

lines as (

    select * from {{ ref('int_member__transaction_lines_costed') }}
    {%- if is_incremental() %}
    where transaction_id in (select receipts_to_reprocess.transaction_id from receipts_to_reprocess)
    {%- endif %}

),

line_totals as (

    select
        transaction_id,
        count(*) as line_count,
        sum(quantity) as units,
        sum(cost_amount) as cost_amount,
        sum(case when has_product_cost then 0 else 1 end) as lines_without_cost,
        max(_loaded_at) as lines_loaded_at
    from lines
    group by transaction_id

),

joined as (

    select
        transactions.*,
        line_totals.line_count,
        line_totals.units,
        line_totals.cost_amount,
        line_totals.lines_without_cost,
        line_totals.lines_loaded_at
    from transactions
    left join line_totals
        on transactions.transaction_id = line_totals.transaction_id

),

final as (

    select
        transaction_id,
        original_transaction_id,
        transaction_type,
        is_refund,
        member_id,
        member_resolution,
        is_member_receipt,
        store_id,
        terminal_id,
        payment_method,
        coupon_code,
        has_coupon,
        transaction_at,
        business_date,
        gross_amount,
        discount_amount,
        points_redeemed,
        points_redeemed_amount,
        {{ cast_amount('gross_amount - discount_amount') }} as net_revenue_amount,
        net_amount as paid_amount,
        {{ cast_amount('coalesce(cost_amount, 0)') }} as cost_amount,
        {{ cast_amount('gross_amount - discount_amount - coalesce(cost_amount, 0)') }} as margin_amount,
        cast(coalesce(line_count, 0) as {{ dbt.type_int() }}) as line_count,
        cast(coalesce(units, 0) as {{ dbt.type_int() }}) as units,
        coalesce(lines_without_cost, 0) = 0 and line_count is not null as is_fully_costed,
        _loaded_at
    from joined
    {%- if is_incremental() %}
    where {{ incremental_lookback('_loaded_at') }}
        or {{ incremental_lookback('lines_loaded_at', this_column='_loaded_at') }}
        or transaction_id in (
            select stored_rows.transaction_id
            from {{ this }} as stored_rows
            where {{ unresolved_rows }}
        )
    {%- endif %}

)

select * from final
