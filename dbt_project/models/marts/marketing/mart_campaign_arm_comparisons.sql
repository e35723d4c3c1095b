{#-
    Multi-arm campaign tests (多臂实验) with multiple-comparison corrections (多重比较校正):
    one row per campaign and treatment arm, each arm against the campaign's one control
    arm (a two-arm campaign is a family of one comparison, where the corrections change
    nothing). The arms' figures, intervals and per-comparison p-values are those of
    mart_campaign_roi; this mart corrects the p-values for the campaign's several arms.

    Family: the campaign's treatment arms that have a p-value for the metric (one family
    per campaign and metric, conversion and revenue per member separately), m members.
    With the arm's p-value ranked i-th smallest (ties broken by arm name, which changes
    no adjusted value):
      Holm-Bonferroni (controls the family-wise error rate):
        p_holm(i) = max over j <= i of min(1, (m - j + 1) * p(j))
      Benjamini-Hochberg (controls the false discovery rate):
        p_bh(i)   = min over j >= i of min(1, m * p(j) / j)
    so p <= p_bh <= p_holm. An arm is significant after correction when its adjusted
    p-value is below 0.05 (the alpha of int_experience__campaign_significance).
    The best arm is the one with the highest conversion uplift (ties: arm name).
-#}

{%- set metrics = ['conversion', 'revenue'] %}

with

campaign_roi as (

    select * from {{ ref('mart_campaign_roi') }}

),

compared as (

    select
        campaign_arm_id,
        campaign_id,
        arm,
        campaign_name,
        start_date,
        end_date,
        member_count,
        control_member_count,
        conversion_rate,
        control_conversion_rate,
        conversion_uplift,
        conversion_uplift_ci_low,
        conversion_uplift_ci_high,
        revenue_per_member,
        control_revenue_per_member,
        revenue_per_member - control_revenue_per_member as revenue_uplift_per_member,
        conversion_p_value,
        revenue_p_value,
        has_sample_ratio_mismatch,
        count(*) over (partition by campaign_id) as treatment_arm_count
    from campaign_roi
    where is_treatment and control_member_count is not null

),

ranked as (

    select
        *,
        {% for metric in metrics %}
        cast(count({{ metric }}_p_value) over (partition by campaign_id) as {{ double_type() }})
            as {{ metric }}_family_size,
        row_number() over (
            partition by campaign_id order by {{ metric }}_p_value asc nulls last, arm asc
        ) as {{ metric }}_rank,
        {% endfor %}
        row_number() over (
            partition by campaign_id order by conversion_uplift desc nulls last, arm asc
        ) as uplift_rank
    from compared

),

stepped as (

    select
        *,
        {% for metric in metrics %}
        least(
            1.0, ({{ metric }}_family_size - {{ metric }}_rank + 1) * {{ metric }}_p_value
        ) as {{ metric }}_holm_step,
        -- m x p / m is p itself (computed, it could round one unit below p)
        case
            when {{ metric }}_rank = {{ metric }}_family_size then {{ metric }}_p_value
            else least(1.0, {{ metric }}_family_size * {{ metric }}_p_value / {{ metric }}_rank)
        end as {{ metric }}_bh_step,
        {% endfor %}
        max(case when uplift_rank = 1 then arm end) over (partition by campaign_id) as best_arm
    from ranked

),

adjusted as (

    select
        *,
        {% for metric in metrics %}
        max({{ metric }}_holm_step) over (
            partition by campaign_id order by {{ metric }}_rank asc
            rows between unbounded preceding and current row
        ) as {{ metric }}_holm_running_max,
        min({{ metric }}_bh_step) over (
            partition by campaign_id order by {{ metric }}_rank asc
            rows between current row and unbounded following
        ) as {{ metric }}_bh_running_min,
        {% endfor %}
        uplift_rank = 1 as is_best_arm
    from stepped

),

final as (

    select
        campaign_arm_id,
        campaign_id,
        arm,
        campaign_name,
        start_date,
        end_date,
        cast(treatment_arm_count as {{ dbt.type_int() }}) as treatment_arm_count,
        treatment_arm_count > 1 as is_multi_arm,
        member_count,
        control_member_count,
        conversion_rate,
        control_conversion_rate,
        conversion_uplift,
        conversion_uplift_ci_low,
        conversion_uplift_ci_high,
        revenue_per_member,
        control_revenue_per_member,
        cast(revenue_uplift_per_member as {{ double_type() }}) as revenue_uplift_per_member,
        cast(conversion_family_size as {{ dbt.type_int() }}) as conversion_family_size,
        conversion_p_value,
        cast(case when conversion_p_value is not null then conversion_holm_running_max end as {{ double_type() }})
            as conversion_p_value_holm,
        cast(case when conversion_p_value is not null then conversion_bh_running_min end as {{ double_type() }})
            as conversion_p_value_bh,
        conversion_p_value < 0.05 as is_conversion_significant,
        conversion_holm_running_max < 0.05 and conversion_p_value is not null as is_conversion_significant_holm,
        conversion_bh_running_min < 0.05 and conversion_p_value is not null as is_conversion_significant_bh,
        cast(revenue_family_size as {{ dbt.type_int() }}) as revenue_family_size,
        revenue_p_value,
        cast(case when revenue_p_value is not null then revenue_holm_running_max end as {{ double_type() }})
            as revenue_p_value_holm,
        cast(case when revenue_p_value is not null then revenue_bh_running_min end as {{ double_type() }})
            as revenue_p_value_bh,
        revenue_p_value < 0.05 as is_revenue_significant,
        revenue_holm_running_max < 0.05 and revenue_p_value is not null as is_revenue_significant_holm,
        revenue_bh_running_min < 0.05 and revenue_p_value is not null as is_revenue_significant_bh,
        best_arm,
        is_best_arm,
        has_sample_ratio_mismatch
    from adjusted

)

select * from final
