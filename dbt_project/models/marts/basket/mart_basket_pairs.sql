{#-
    Cross-category association rules from receipt lines: one row per unordered pair of
    product categories (category_a < category_b) bought together on a sale receipt.
    Over N baskets (sale receipts with at least one categorized line):
      support      = baskets with both / N
      confidence   = baskets with both / baskets with the antecedent (both directions)
      lift         = support(a, b) / (support(a) * support(b))
    Pairs below var `basket_min_support` (default 0.001) or seen in fewer than
    var `basket_min_pair_baskets` (default 5) baskets are dropped.
-#}
{%- set min_support = var('basket_min_support') -%}
{%- set min_pair_baskets = var('basket_min_pair_baskets') -%}

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

basket_categories as (

    select distinct
        lines.transaction_id,
        products.product_category

    from lines
    inner join transactions on lines.transaction_id = transactions.transaction_id
    inner join products on lines.sku = products.sku
    where not transactions.is_refund
        and lines.quantity > 0
        and products.product_category is not null

),

basket_total as (

    select count(distinct transaction_id) as basket_count from basket_categories

),

category_baskets as (

    select
        product_category,
        count(*) as basket_count
    from basket_categories
    group by product_category

),

pair_baskets as (

    select
        a.product_category as category_a,
        b.product_category as category_b,
        count(*) as basket_count

    from basket_categories as a
    inner join basket_categories as b
        on a.transaction_id = b.transaction_id
        and a.product_category < b.product_category
    group by a.product_category, b.product_category

),

scored as (

    select
        pair_baskets.category_a,
        pair_baskets.category_b,
        pair_baskets.basket_count as pair_basket_count,
        count_a.basket_count as category_a_basket_count,
        count_b.basket_count as category_b_basket_count,
        basket_total.basket_count as total_basket_count,
        cast(pair_baskets.basket_count as {{ double_type() }}) / basket_total.basket_count as support,
        cast(count_a.basket_count as {{ double_type() }}) / basket_total.basket_count as support_a,
        cast(count_b.basket_count as {{ double_type() }}) / basket_total.basket_count as support_b

    from pair_baskets
    cross join basket_total
    inner join category_baskets as count_a on pair_baskets.category_a = count_a.product_category
    inner join category_baskets as count_b on pair_baskets.category_b = count_b.product_category

),

final as (

    select
        {{ surrogate_key(['category_a', 'category_b']) }} as basket_pair_id,
        category_a,
        category_b,
        cast(pair_basket_count as {{ dbt.type_int() }}) as pair_basket_count,
        cast(category_a_basket_count as {{ dbt.type_int() }}) as category_a_basket_count,
        cast(category_b_basket_count as {{ dbt.type_int() }}) as category_b_basket_count,
        cast(total_basket_count as {{ dbt.type_int() }}) as total_basket_count,
        cast(support as {{ double_type() }}) as support,
        cast(
            cast(pair_basket_count as {{ double_type() }}) / category_a_basket_count
            as {{ double_type() }}
        ) as confidence_a_to_b,
        cast(
            cast(pair_basket_count as {{ double_type() }}) / category_b_basket_count
            as {{ double_type() }}
        ) as confidence_b_to_a,
        cast(support / (support_a * support_b) as {{ double_type() }}) as lift

    from scored
    where support >= {{ min_support }}
        and pair_basket_count >= {{ min_pair_baskets }}

)

select * from final
