{{ config(materialized='table') }}
{#-
    The Spark build of int_experience__campaign_significance (the model of that name in
    the parent folder is a dbt Python model, which dbt-spark runs on Databricks only; this
    one is enabled on Spark instead, dbt_project.yml). The same tests and the same
    definitions as the Python functions (int_experience__campaign_significance.py, where
    they are documented and checked against scipy.stats), with the distribution tails of
    macros/metrics/p_values.sql: NULL where the Python model has NaN or None.
-#}

with

arms as (

    select
        campaign_arm_id,
        arm <> 'control' and control_member_count is not null as is_tested,
        cast(member_count as {{ double_type() }}) as n1,
        cast(converted_count as {{ double_type() }}) as x1,
        cast(control_member_count as {{ double_type() }}) as n2,
        cast(control_converted_count as {{ double_type() }}) as x2,
        revenue_per_member as mean1,
        revenue_variance as var1,
        control_revenue_per_member as mean2,
        control_revenue_variance as var2,
        -- the pair's planned control share (pair_control_share of the Python model)
        planned_control_share / (
            planned_control_share + (1.0 - planned_control_share) / greatest(treatment_arm_count, 1)
        ) as control_share
    from {{ ref('int_experience__campaign_arms') }}

),

conversion as (

    select
        *,
        case when is_tested and n1 > 0 and n2 > 0 then (x1 + x2) / (n1 + n2) end as pooled
    from arms

),

conversion_se as (

    select
        *,
        nullif(sqrt(pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)), 0) as se
    from conversion

),

welch as (

    select
        *,
        case when is_tested and n1 >= 2 and n2 >= 2 then var1 / n1 end as a,
        case when is_tested and n1 >= 2 and n2 >= 2 then var2 / n2 end as b
    from conversion_se

),

statistics as (

    select
        *,
        (x1 / n1 - x2 / n2) / se as conversion_z,
        (mean1 - mean2) / sqrt(nullif(a + b, 0)) as revenue_t,
        (a + b) * (a + b) / nullif(a * a / (n1 - 1) + b * b / (n2 - 1), 0) as welch_df,
        case
            when is_tested and n1 + n2 > 0 and control_share > 0 and control_share < 1
                then
                    (n1 - (n1 + n2) * (1.0 - control_share)) * (n1 - (n1 + n2) * (1.0 - control_share))
                    / ((n1 + n2) * (1.0 - control_share))
                    + (n2 - (n1 + n2) * control_share) * (n2 - (n1 + n2) * control_share)
                    / ((n1 + n2) * control_share)
        end as srm_chi_square
    from welch

),

final as (

    select
        campaign_arm_id,
        conversion_z,
        {{ normal_two_sided_p_value('conversion_z') }} as conversion_p_value,
        case when a + b > 0 then revenue_t end as revenue_t,
        case when a + b > 0 then welch_df end as revenue_df,
        case when a + b > 0 then {{ student_t_two_sided_p_value('revenue_t', 'welch_df') }} end as revenue_p_value,
        srm_chi_square,
        {{ chi_square_1df_p_value('srm_chi_square') }} as srm_p_value
    from statistics

)

select
    campaign_arm_id,
    cast(conversion_z as {{ double_type() }}) as conversion_z,
    cast(conversion_p_value as {{ double_type() }}) as conversion_p_value,
    cast(revenue_t as {{ double_type() }}) as revenue_t,
    cast(revenue_df as {{ double_type() }}) as revenue_df,
    cast(revenue_p_value as {{ double_type() }}) as revenue_p_value,
    cast(srm_chi_square as {{ double_type() }}) as srm_chi_square,
    cast(srm_p_value as {{ double_type() }}) as srm_p_value,
    conversion_p_value < 0.05 as is_conversion_significant,
    revenue_p_value < 0.05 as is_revenue_significant,
    srm_p_value < 0.001 as has_sample_ratio_mismatch
from final
