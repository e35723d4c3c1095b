-- Association rules (商品关联) for cross-promotion, strongest lift first: the FP-Growth rules
-- of the latest ML scoring run (marts.mart_basket_rules; support, confidence and lift over
-- all baskets, one-item baskets included), at category level (categories bought in one
-- shopping trip) and sku level (products on one receipt). Before the first ML run that
-- table is empty and the SQL category pair counts of marts.mart_basket_pairs stand in
-- (rule_source tells which), one row per direction a -> b.
-- One row per rule antecedent -> consequent, so a Sankey can draw it.
-- dashboard-filters: none
-- dashboard-ignores date: the rules are mined once over every basket up to the model's cutoff
-- dashboard-ignores store: the rules are mined mall-wide (one trip spans stores)
-- dashboard-ignores segment: the rules are mined over every basket, members or not
select
    'FP-Growth' as rule_source,
    rule_level,
    rule_rank,
    antecedent_items as antecedent,
    consequent_items as consequent,
    coalesce(antecedent_product_name, antecedent_items) as antecedent_label,
    coalesce(consequent_product_name, consequent_items) as consequent_label,
    rule_basket_count,
    antecedent_basket_count,
    total_basket_count,
    support,
    confidence,
    lift,
    model_version,
    cutoff_date
from marts.mart_basket_rules
union all
select
    'SQL pairs (no ML run yet)',
    'category',
    cast(null as integer),
    pairs.antecedent,
    pairs.consequent,
    pairs.antecedent,
    pairs.consequent,
    pairs.pair_basket_count,
    pairs.antecedent_basket_count,
    pairs.total_basket_count,
    pairs.support,
    pairs.confidence,
    pairs.lift,
    cast(null as varchar),
    cast(null as date)
from (
    select
        category_a as antecedent,
        category_b as consequent,
        pair_basket_count,
        category_a_basket_count as antecedent_basket_count,
        total_basket_count,
        support,
        confidence_a_to_b as confidence,
        lift
    from marts.mart_basket_pairs
    union all
    select
        category_b,
        category_a,
        pair_basket_count,
        category_b_basket_count,
        total_basket_count,
        support,
        confidence_b_to_a,
        lift
    from marts.mart_basket_pairs
) as pairs
where not exists (select 1 from marts.mart_basket_rules)
order by rule_level, lift desc, rule_basket_count desc
