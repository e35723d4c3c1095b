{{ config(materialized=incremental_materialization()) }}
{%- set raw_relation = source_or_empty('raw_pos', 'transactions') %}
with

source as (

    -- incremental: only the records with a new copy (macro only_keys_with_new_copies)
    select * from (select * from {{ raw_relation }}) as source_rows
    {{- only_keys_with_new_copies(raw_relation, ['transaction_id']) }}

),

renamed as (

    select
        ----------  ids
        transaction_id,
        original_transaction_id,
        store_id,
        terminal_id,
        cashier_id,
        coupon_code,

        ----------  member identification (personal data)
        member_card_no,
        member_mobile,

        ----------  attributes
        transaction_type,
        payment_method,

        ----------  amounts (CNY)
        {{ cast_amount('gross_amount') }} as gross_amount,
        {{ cast_amount('discount_amount') }} as discount_amount,
        cast(points_redeemed as {{ dbt.type_int() }}) as points_redeemed,
        {{ cast_amount('points_redeemed / 100.0') }} as points_redeemed_amount,
        {{ cast_amount('net_amount') }} as net_amount,

        ----------  timestamps: instants in raw, local wall-clock time here
        {{ to_local_timestamp('transaction_at') }} as transaction_at,

        ----------  lineage
        _source_file,
        _source_line,
        _loaded_at

    from source

),

ranked as (

    -- re-sent files repeat receipts, corrections (_v2) restate them: the newest copy wins
    select
        *,
        row_number() over (
            partition by transaction_id
            order by {{ newest_copy_first() }}
        ) as copy_number

    from renamed

),

final as (

    select
        transaction_id,
        original_transaction_id,
        store_id,
        terminal_id,
        cashier_id,
        coupon_code,
        member_card_no,
        member_mobile,
        transaction_type,
        payment_method,
        gross_amount,
        discount_amount,
        points_redeemed,
        points_redeemed_amount,
        net_amount,
        transaction_at,
        cast(transaction_at as date) as business_date,
        transaction_type = 'refund' as is_refund,
        (member_card_no is not null or member_mobile is not null) as is_member_receipt,
        coupon_code is not null as has_coupon,
        _source_file,
        _source_line,
        _loaded_at

    from ranked
    where copy_number = 1

)

select * from final
