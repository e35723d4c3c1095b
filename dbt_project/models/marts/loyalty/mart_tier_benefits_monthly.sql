{#-
    Benefits used per tier and month: the points redeemed, points-plus-cash receipts,
    campaign coupons redeemed and festival bonus points of the members of each tier,
    and what they cost the mall (points value + coupon face value). A member counts in
    the tier held at the month end (int_loyalty__member_snapshots: active members only,
    so the benefits of members who closed their account in the month are left out).
-#}
with

member_snapshots as (

    select * from {{ ref('int_loyalty__member_snapshots') }}

),

snapshots as (

    select * from {{ ref('int_member__snapshot_dates') }}

),

points_events as (

    select * from {{ ref('fct_points_events') }}
    where entry_type in ('redeem', 'earn')

),

transactions as (

    select * from {{ ref('fct_transactions') }}
    where not is_refund and is_member_receipt and points_redeemed > 0 and paid_amount > 0

),

coupon_events as (

    select * from {{ ref('fct_coupon_events') }}
    where is_redemption

),

identity_map as (

    select * from {{ ref('int_member__identity_map') }}
    where identifier_type = 'member_id'

),

used as (

    select
        points_events.member_id,
        points_events.business_date,
        case when points_events.entry_type = 'redeem' then points_events.points_out else 0 end as points_redeemed,
        case when points_events.entry_type = 'redeem' then -points_events.points_value_amount else 0 end
            as points_redeemed_amount,
        coalesce(points_events.bonus_points, 0) as bonus_points,
        0 as points_plus_cash_receipts,
        0 as coupons_redeemed,
        0 as coupon_value_amount
    from points_events
    union all
    select
        member_id,
        business_date,
        0 as points_redeemed,
        0 as points_redeemed_amount,
        0 as bonus_points,
        1 as points_plus_cash_receipts,
        0 as coupons_redeemed,
        0 as coupon_value_amount
    from transactions
    union all
    select
        coalesce(identity_map.golden_member_id, coupon_events.member_id) as member_id,
        coupon_events.business_date,
        0 as points_redeemed,
        0 as points_redeemed_amount,
        0 as bonus_points,
        0 as points_plus_cash_receipts,
        1 as coupons_redeemed,
        coupon_events.coupon_value_amount
    from coupon_events
    left join identity_map
        on coupon_events.member_id = identity_map.identifier_value

),

member_months as (

    select
        snapshots.snapshot_date,
        used.member_id,
        sum(used.points_redeemed) as points_redeemed,
        sum(used.points_redeemed_amount) as points_redeemed_amount,
        sum(used.bonus_points) as bonus_points,
        sum(used.points_plus_cash_receipts) as points_plus_cash_receipts,
        sum(used.coupons_redeemed) as coupons_redeemed,
        sum(coalesce(used.coupon_value_amount, 0)) as coupon_value_amount
    from snapshots
    inner join used
        on snapshots.snapshot_date >= used.business_date
        and (
            snapshots.previous_snapshot_date is null
            or snapshots.previous_snapshot_date < used.business_date
        )
    group by snapshots.snapshot_date, used.member_id

),

per_tier as (

    select
        member_snapshots.snapshot_month,
        member_snapshots.snapshot_date,
        member_snapshots.is_current_month,
        member_snapshots.tier,
        member_snapshots.tier_rank,
        count(*) as member_count,
        sum(case
            when member_months.points_redeemed > 0 or member_months.coupons_redeemed > 0 then 1 else 0
        end) as benefit_user_count,
        sum(case when member_months.points_redeemed > 0 then 1 else 0 end) as redeeming_member_count,
        sum(coalesce(member_months.points_redeemed, 0)) as points_redeemed,
        sum(coalesce(member_months.points_redeemed_amount, 0)) as points_redeemed_amount,
        sum(coalesce(member_months.points_plus_cash_receipts, 0)) as points_plus_cash_receipts,
        sum(coalesce(member_months.coupons_redeemed, 0)) as coupons_redeemed,
        sum(coalesce(member_months.coupon_value_amount, 0)) as coupon_value_amount,
        sum(coalesce(member_months.bonus_points, 0)) as bonus_points_earned
    from member_snapshots
    left join member_months
        on member_snapshots.snapshot_date = member_months.snapshot_date
        and member_snapshots.member_id = member_months.member_id
    group by
        member_snapshots.snapshot_month,
        member_snapshots.snapshot_date,
        member_snapshots.is_current_month,
        member_snapshots.tier,
        member_snapshots.tier_rank

),

final as (

    select
        {{ surrogate_key(['snapshot_date', 'tier']) }} as tier_benefit_month_id,
        snapshot_month,
        snapshot_date,
        is_current_month,
        tier,
        cast(tier_rank as {{ dbt.type_int() }}) as tier_rank,
        cast(member_count as {{ dbt.type_int() }}) as member_count,
        cast(benefit_user_count as {{ dbt.type_int() }}) as benefit_user_count,
        cast(
            cast(benefit_user_count as {{ double_type() }}) / nullif(member_count, 0) as {{ double_type() }}
        ) as benefit_user_share,
        cast(redeeming_member_count as {{ dbt.type_int() }}) as redeeming_member_count,
        cast(points_redeemed as {{ dbt.type_bigint() }}) as points_redeemed,
        {{ cast_amount('points_redeemed_amount') }} as points_redeemed_amount,
        cast(points_plus_cash_receipts as {{ dbt.type_int() }}) as points_plus_cash_receipts,
        cast(coupons_redeemed as {{ dbt.type_int() }}) as coupons_redeemed,
        {{ cast_amount('coupon_value_amount') }} as coupon_value_amount,
        cast(bonus_points_earned as {{ dbt.type_bigint() }}) as bonus_points_earned,
        {{ cast_amount('points_redeemed_amount + coupon_value_amount') }} as benefit_cost_amount,
        {{ cast_amount('(points_redeemed_amount + coupon_value_amount) / nullif(member_count, 0)') }}
            as benefit_cost_per_member_amount
    from per_tier

)

select * from final
