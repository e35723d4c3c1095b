{#-
    Points economics per month: redemption, points-plus-cash use at the till, breakage
    and a breakage-aware liability (积分负债).

    Points-plus-cash receipts are member sales paid partly with points and partly with
    money (points_redeemed > 0 and paid_amount > 0); points-only receipts have nothing
    left to pay. Breakage is measured on the matured points: the points of every earn
    entry whose expiry day has passed by the snapshot day either were spent or expired,
    so expected_breakage_rate = points expired to date / points earned with expires_on
    <= snapshot day (NULL before the first expiry). The liability is the outstanding
    balance (mart_points_monthly) x (1 - expected breakage rate) / var `points_per_cny`;
    with no expiry history yet it is the full face value.
-#}
with

points_monthly as (

    select * from {{ ref('mart_points_monthly') }}

),

transactions as (

    select * from {{ ref('fct_transactions') }}
    where not is_refund and is_member_receipt

),

events as (

    select * from {{ ref('fct_points_events') }}
    where entry_type in ('earn', 'expire')

),

snapshots as (

    select * from {{ ref('int_member__snapshot_dates') }}

),

till as (

    select
        snapshots.snapshot_date,
        count(*) as member_sale_receipts,
        sum(case when transactions.points_redeemed > 0 then 1 else 0 end) as points_receipts,
        sum(case
            when transactions.points_redeemed > 0 and transactions.paid_amount > 0 then 1
            else 0
        end) as points_plus_cash_receipts,
        sum(case
            when transactions.points_redeemed > 0 and transactions.paid_amount > 0
                then transactions.points_redeemed_amount
            else 0
        end) as points_plus_cash_points_amount,
        sum(case
            when transactions.points_redeemed > 0 and transactions.paid_amount > 0
                then transactions.paid_amount
            else 0
        end) as points_plus_cash_paid_amount
    from snapshots
    inner join transactions
        on snapshots.snapshot_date >= transactions.business_date
        and (
            snapshots.previous_snapshot_date is null
            or snapshots.previous_snapshot_date < transactions.business_date
        )
    group by snapshots.snapshot_date

),

matured as (

    select
        snapshots.snapshot_date,
        sum(case
            when events.entry_type = 'earn' and events.expires_on <= snapshots.snapshot_date
                then events.points_in
            else 0
        end) as matured_points_earned,
        sum(case
            when events.entry_type = 'expire' and events.business_date <= snapshots.snapshot_date
                then events.points_out
            else 0
        end) as points_expired_to_date
    from snapshots
    inner join events
        on snapshots.snapshot_date >= events.business_date
    group by snapshots.snapshot_date

),

rated as (

    select
        points_monthly.snapshot_month,
        points_monthly.snapshot_date,
        points_monthly.is_current_month,
        points_monthly.points_earned,
        points_monthly.points_redeemed,
        points_monthly.points_expired,
        points_monthly.outstanding_points,
        points_monthly.outstanding_liability_amount,
        coalesce(till.member_sale_receipts, 0) as member_sale_receipts,
        coalesce(till.points_receipts, 0) as points_receipts,
        coalesce(till.points_plus_cash_receipts, 0) as points_plus_cash_receipts,
        coalesce(till.points_plus_cash_points_amount, 0) as points_plus_cash_points_amount,
        coalesce(till.points_plus_cash_paid_amount, 0) as points_plus_cash_paid_amount,
        coalesce(matured.matured_points_earned, 0) as matured_points_earned,
        coalesce(matured.points_expired_to_date, 0) as points_expired_to_date,
        cast(matured.points_expired_to_date as {{ double_type() }})
        / nullif(matured.matured_points_earned, 0) as expected_breakage_rate
    from points_monthly
    left join till
        on points_monthly.snapshot_date = till.snapshot_date
    left join matured
        on points_monthly.snapshot_date = matured.snapshot_date

),

final as (

    select
        snapshot_month,
        snapshot_date,
        is_current_month,
        cast(points_earned as {{ dbt.type_bigint() }}) as points_earned,
        cast(points_redeemed as {{ dbt.type_bigint() }}) as points_redeemed,
        cast(points_expired as {{ dbt.type_bigint() }}) as points_expired,
        cast(
            cast(points_redeemed as {{ double_type() }}) / nullif(points_earned, 0) as {{ double_type() }}
        ) as redemption_rate,
        cast(member_sale_receipts as {{ dbt.type_int() }}) as member_sale_receipts,
        cast(points_receipts as {{ dbt.type_int() }}) as points_receipts,
        cast(points_plus_cash_receipts as {{ dbt.type_int() }}) as points_plus_cash_receipts,
        cast(points_receipts - points_plus_cash_receipts as {{ dbt.type_int() }}) as points_only_receipts,
        cast(
            cast(points_plus_cash_receipts as {{ double_type() }}) / nullif(member_sale_receipts, 0)
            as {{ double_type() }}
        ) as points_plus_cash_share,
        {{ cast_amount('points_plus_cash_points_amount') }} as points_plus_cash_points_amount,
        {{ cast_amount('points_plus_cash_paid_amount') }} as points_plus_cash_paid_amount,
        cast(
            cast(points_plus_cash_points_amount as {{ double_type() }})
            / nullif(points_plus_cash_points_amount + points_plus_cash_paid_amount, 0)
            as {{ double_type() }}
        ) as points_plus_cash_points_share,
        cast(matured_points_earned as {{ dbt.type_bigint() }}) as matured_points_earned,
        cast(points_expired_to_date as {{ dbt.type_bigint() }}) as points_expired_to_date,
        cast(expected_breakage_rate as {{ double_type() }}) as expected_breakage_rate,
        cast(outstanding_points as {{ dbt.type_bigint() }}) as outstanding_points,
        outstanding_liability_amount as face_value_amount,
        {{ cast_amount(
            'outstanding_points * (1 - coalesce(expected_breakage_rate, 0)) / ' ~ var('points_per_cny')
        ) }} as liability_amount
    from rated

)

select * from final
