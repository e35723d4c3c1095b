{{ config(materialized=incremental_materialization()) }}
{%- set raw_relation = source_or_empty('raw_pos', 'transaction_lines') %}
with

source as (

    -- incremental: only the records with a new copy (macro only_keys_with_new_copies)
    select * from (select * from {{ raw_relation }}) as source_rows
    {{- only_keys_with_new_copies(raw_relation, ['transaction_id', 'line_no']) }}

),

renamed as (

    select
        ----------  ids
        {{ surrogate_key(['transaction_id', 'line_no']) }} as transaction_line_id,
        transaction_id,
        cast(line_no as {{ dbt.type_int() }}) as line_no,
        sku,

        ----------  quantities and amounts (CNY)
        cast(quantity as {{ dbt.type_int() }}) as quantity,
        {{ cast_amount('unit_price') }} as unit_price,
        {{ cast_amount('discount_amount') }} as discount_amount,
        {{ cast_amount('line_amount') }} as line_amount,

        ----------  lineage
        _source_file,
        _source_line,
        _loaded_at

    from source

),

ranked as (

    -- re-sent files repeat lines, corrections (_v2) restate them: the newest copy wins
    select
        *,
        row_number() over (
            partition by transaction_id, line_no
            order by {{ newest_copy_first() }}
        ) as copy_number

    from renamed

),

final as (

    select
        transaction_line_id,
        transaction_id,
        line_no,
        sku,
        quantity,
        unit_price,
        discount_amount,
        line_amount,
        {{ cast_amount('quantity * unit_price') }} as gross_line_amount,
        quantity < 0 as is_refund_line,
        _source_file,
        _source_line,
        _loaded_at

    from ranked
    where copy_number = 1

)

select * from final
