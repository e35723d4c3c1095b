{#-
    Tier qualification (会员升降级) of every active golden member on the as-of date, against
    the tier rules of var `loyalty_tier_min_spend_cny` (macros/loyalty/loyalty_tiers.sql):
    the tier the rolling 12-month spend qualifies for, the next tier and the spend still
    missing to reach it (near an upgrade from var `loyalty_near_upgrade_share` of its
    minimum), and the downgrade risk at the next annual review. The review on 1 January
    re-rates on the 12 months to 31 December, i.e. the current calendar year's spend:
    a member whose spend this year is still below the minimum of the current tier is at
    risk of a downgrade (manual upgrades above the rules included).
-#}
with

members as (

    select * from {{ ref('dim_member') }}
    where is_active

),

spend_windows as (

    select * from {{ ref('int_member__spend_windows') }}

),

activity as (

    select * from {{ ref('int_member__daily_activity') }}

),

as_of as (

    select * from {{ ref('int_member__as_of_date') }}

),

year_spend as (

    select
        activity.member_id,
        sum(activity.net_spend_amount) as review_window_spend
    from activity
    cross join as_of
    where activity.business_date <= as_of.as_of_date
        and activity.business_date >= {{ dbt.date_trunc('year', 'as_of.as_of_date') }}
    group by activity.member_id

),

measured as (

    select
        members.member_id,
        as_of.as_of_date,
        members.tier,
        members.tier_rank,
        coalesce(spend_windows.rolling_12m_spend, 0) as rolling_12m_spend,
        coalesce(year_spend.review_window_spend, 0) as review_window_spend,
        cast({{ dbt.dateadd('year', 1, dbt.date_trunc('year', 'as_of.as_of_date')) }} as date) as next_review_date,
        {{ loyalty_next_tier('members.tier') }} as next_tier
    from members
    cross join as_of
    left join spend_windows
        on members.member_id = spend_windows.member_id
    left join year_spend
        on members.member_id = year_spend.member_id

),

rated as (

    select
        *,
        {{ loyalty_tier_for_spend('rolling_12m_spend') }} as qualified_tier,
        {{ loyalty_tier_for_spend('review_window_spend') }} as review_tier,
        {{ loyalty_tier_min_spend('tier') }} as tier_min_spend,
        {{ loyalty_tier_min_spend('next_tier') }} as next_tier_min_spend
    from measured

),

final as (

    select
        member_id,
        as_of_date,
        tier,
        cast(tier_rank as {{ dbt.type_int() }}) as tier_rank,
        {{ cast_amount('rolling_12m_spend') }} as rolling_12m_spend,
        qualified_tier,
        cast({{ tier_rank('qualified_tier') }} as {{ dbt.type_int() }}) as qualified_tier_rank,
        tier_rank > {{ tier_rank('qualified_tier') }} as is_tier_above_rules,
        tier_rank < {{ tier_rank('qualified_tier') }} as is_tier_below_rules,
        next_tier,
        {{ cast_amount('next_tier_min_spend') }} as next_tier_min_spend_amount,
        {{ cast_amount(
            'case when next_tier_min_spend > rolling_12m_spend then next_tier_min_spend - rolling_12m_spend else 0 end'
        ) }} as gap_to_next_tier_amount,
        coalesce(
            rolling_12m_spend < next_tier_min_spend
            and rolling_12m_spend >= next_tier_min_spend * {{ var('loyalty_near_upgrade_share') }},
            false
        ) as is_near_upgrade,
        next_review_date,
        {{ cast_amount('review_window_spend') }} as review_window_spend,
        review_tier,
        {{ cast_amount(
            'case when tier_min_spend > review_window_spend then tier_min_spend - review_window_spend else 0 end'
        ) }} as keep_tier_gap_amount,
        coalesce(tier_rank > 1 and review_window_spend < tier_min_spend, false) as is_at_risk_of_downgrade
    from rated

)

select * from final
