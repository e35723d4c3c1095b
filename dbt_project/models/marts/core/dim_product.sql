{#- One row per product (SKU) with its store, category, brand, price and cost. -#}
with

products as (

    select * from {{ ref('msk_reference__products') }}

),

final as (

    select
        sku,
        product_name,
        product_category,
        brand,
        store_id,
        unit_price,
        unit_cost,
        {{ cast_amount("unit_margin") }} as unit_margin,
        case
            when unit_price > 0 then cast(unit_margin / unit_price as decimal(9, 4))
        end as margin_rate,
        is_in_latest_snapshot,
        snapshot_date
    from products

)

select * from final
