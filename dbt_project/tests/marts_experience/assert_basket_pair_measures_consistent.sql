-- Support, confidence and lift of each pair agree with its basket counts (the product of
-- pair and total basket counts overflows a 32-bit integer at 50,000 members: bench S=10).
select basket_pair_id
from {{ ref('mart_basket_pairs') }}
where abs(confidence_a_to_b * category_a_basket_count - pair_basket_count) > 1e-6
   or abs(confidence_b_to_a * category_b_basket_count - pair_basket_count) > 1e-6
   or abs(support * total_basket_count - pair_basket_count) > 1e-6
   or abs(
        lift * category_a_basket_count * category_b_basket_count
        - cast(pair_basket_count as {{ dbt.type_bigint() }}) * total_basket_count
   ) > 1e-6 * total_basket_count
   or pair_basket_count > category_a_basket_count
   or pair_basket_count > category_b_basket_count
