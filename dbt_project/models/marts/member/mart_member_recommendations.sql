{#-
    The product recommendations of the latest recommendations scoring run (item-based
    collaborative filtering, ml/recommend.py; source ml_scores.member_recommendations):
    one row per member and rank, the top-N products the member has not bought yet, with
    the product's name, category and brand from dim_product. Grain: member_id x
    recommendation_rank (and member_id x sku). Member-level: the role files give it only
    to roles that may see member_id (privacy/publish.py). Empty until the first ML
    scoring run (source_or_empty).
-#}

with

recommendations as (

    select * from {{ source_or_empty('ml_scores', 'member_recommendations') }}

),

products as (

    select * from {{ ref('dim_product') }}

),

final as (

    select
        {{ surrogate_key(['recommendations.member_id', 'recommendations.sku']) }} as member_recommendation_id,
        cast(recommendations.member_id as {{ dbt.type_string() }}) as member_id,
        cast(recommendations.rank as {{ dbt.type_int() }}) as recommendation_rank,
        cast(recommendations.sku as {{ dbt.type_string() }}) as sku,
        cast(products.product_name as {{ dbt.type_string() }}) as product_name,
        cast(products.product_category as {{ dbt.type_string() }}) as product_category,
        cast(products.brand as {{ dbt.type_string() }}) as brand,
        cast(recommendations.score as {{ double_type() }}) as recommendation_score,
        cast(recommendations.cutoff_date as date) as cutoff_date,
        cast(recommendations.model_version as {{ dbt.type_string() }}) as model_version,
        cast(recommendations.scored_at as {{ dbt.type_timestamp() }}) as scored_at

    from recommendations
    left join products on recommendations.sku = products.sku

)

select * from final
