-- Cross-category association rules (品类关联) for cross-promotion, strongest lift first.
-- One row per direction a -> b, so a Sankey can draw antecedent -> consequent.
-- dashboard-filters: none
select
    category_a as antecedent,
    category_b as consequent,
    pair_basket_count,
    support,
    confidence_a_to_b as confidence,
    lift
from marts.mart_basket_pairs
union all
select
    category_b,
    category_a,
    pair_basket_count,
    support,
    confidence_b_to_a,
    lift
from marts.mart_basket_pairs
order by lift desc, pair_basket_count desc
