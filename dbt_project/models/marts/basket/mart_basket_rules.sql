{#-
    The FP-Growth association rules of the latest basket_rules scoring run (ml/basket.py,
    source ml_scores.basket_rules), for BI and cross-promotion: one row per rule
    (level x antecedents -> consequents), the top rules by lift of each level.
      level `category`: product categories bought in one shopping trip (a member's
                        receipts of one day; an anonymous receipt is its own trip)
      level `sku`:      products on one sale receipt
    Over all N baskets of the mining window (one-item baskets included):
      support    = baskets with antecedents and consequents / N
      confidence = support / antecedent support
      lift       = confidence / consequent support
    Basket counts are support x N, N = rule baskets / support. A one-product side of a
    sku rule carries its product's name and category from dim_product. Empty until the
    first ML scoring run (source_or_empty).
-#}

with

rules as (

    select * from {{ source_or_empty('ml_scores', 'basket_rules') }}

),

products as (

    select * from {{ ref('dim_product') }}

),

counted as (

    select
        rules.*,
        cast(round(rules.baskets / rules.support) as {{ dbt.type_bigint() }}) as total_basket_count,
        {{ dbt.length('rules.antecedents') }}
        - {{ dbt.length(dbt.replace('rules.antecedents', "','", "''")) }} + 1 as antecedent_item_count,
        {{ dbt.length('rules.consequents') }}
        - {{ dbt.length(dbt.replace('rules.consequents', "','", "''")) }} + 1 as consequent_item_count

    from rules
    where rules.support > 0

),

final as (

    select
        {{ surrogate_key(['counted.level', 'counted.antecedents', 'counted.consequents']) }} as basket_rule_id,
        cast(counted.level as {{ dbt.type_string() }}) as rule_level,
        cast(counted.rule_rank as {{ dbt.type_int() }}) as rule_rank,
        cast(counted.antecedents as {{ dbt.type_string() }}) as antecedent_items,
        cast(counted.consequents as {{ dbt.type_string() }}) as consequent_items,
        cast(counted.antecedent_item_count as {{ dbt.type_int() }}) as antecedent_item_count,
        cast(counted.consequent_item_count as {{ dbt.type_int() }}) as consequent_item_count,
        cast(antecedent_products.product_name as {{ dbt.type_string() }}) as antecedent_product_name,
        cast(antecedent_products.product_category as {{ dbt.type_string() }}) as antecedent_product_category,
        cast(consequent_products.product_name as {{ dbt.type_string() }}) as consequent_product_name,
        cast(consequent_products.product_category as {{ dbt.type_string() }}) as consequent_product_category,
        cast(counted.support as {{ double_type() }}) as support,
        cast(counted.confidence as {{ double_type() }}) as confidence,
        cast(counted.lift as {{ double_type() }}) as lift,
        cast(counted.antecedent_support as {{ double_type() }}) as antecedent_support,
        cast(counted.consequent_support as {{ double_type() }}) as consequent_support,
        cast(counted.baskets as {{ dbt.type_bigint() }}) as rule_basket_count,
        cast(
            round(counted.antecedent_support * counted.total_basket_count) as {{ dbt.type_bigint() }}
        ) as antecedent_basket_count,
        cast(
            round(counted.consequent_support * counted.total_basket_count) as {{ dbt.type_bigint() }}
        ) as consequent_basket_count,
        counted.total_basket_count,
        cast(counted.cutoff_date as date) as cutoff_date,
        cast(counted.model_version as {{ dbt.type_string() }}) as model_version,
        cast(counted.scored_at as {{ dbt.type_timestamp() }}) as scored_at

    from counted
    left join products as antecedent_products
        on counted.level = 'sku' and counted.antecedents = antecedent_products.sku
    left join products as consequent_products
        on counted.level = 'sku' and counted.consequents = consequent_products.sku

)

select * from final
