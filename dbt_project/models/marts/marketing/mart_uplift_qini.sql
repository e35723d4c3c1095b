{#-
    Holdout Qini curves of the promoted uplift model (ml/uplift.py, source
    ml_scores.uplift_qini), for the campaigns dashboard: per ranking (the uplift model,
    the churn heuristic, random targeting) and share of the test campaigns' members
    targeted best-first, the incremental conversions (treated conversions - control
    conversions x treated / control members in that share), and how far that is above
    the random line (the share x the incremental conversions of targeting everyone).
    Empty until the uplift model has passed its gate and scored (source_or_empty).
-#}

with

curves as (

    select * from {{ source_or_empty('ml_scores', 'uplift_qini') }}

),

totals as (

    select
        ranking,
        max(case when targeted_share >= 1 then incremental_conversions end) as all_targeted_conversions
    from curves
    group by ranking

),

final as (

    select
        {{ surrogate_key(['curves.ranking', 'curves.targeted_share']) }} as uplift_qini_point_id,
        cast(curves.ranking as {{ dbt.type_string() }}) as ranking,
        cast(curves.ranking_label as {{ dbt.type_string() }}) as ranking_label,
        cast(curves.targeted_share as {{ double_type() }}) as targeted_share,
        cast(curves.incremental_conversions as {{ double_type() }}) as incremental_conversions,
        cast(
            curves.incremental_conversions - curves.targeted_share * totals.all_targeted_conversions
            as {{ double_type() }}
        ) as conversions_above_random,
        cast(curves.qini_coefficient as {{ double_type() }}) as qini_coefficient,
        cast(curves.random_qini_p95 as {{ double_type() }}) as random_qini_p95,
        cast(curves.holdout_members as {{ dbt.type_bigint() }}) as holdout_member_count,
        cast(curves.holdout_campaigns as {{ dbt.type_int() }}) as holdout_campaign_count,
        cast(curves.split_date as date) as split_date,
        cast(curves.model_version as {{ dbt.type_string() }}) as model_version,
        cast(curves.scored_at as {{ dbt.type_timestamp() }}) as scored_at

    from curves
    inner join totals
        on curves.ranking = totals.ranking

)

select * from final
