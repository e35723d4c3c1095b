{#-
    One row per campaign assignment (campaign x member): the member's arm and what the
    member did during the campaign window [start_date, end_date] (local business days).
    - converted: at least one sale receipt in the window;
    - net revenue / margin: all the member's receipts in the window (refunds net off);
    - new customer: the member's first sale receipt ever falls in the window. Only
      knowable when the POS history reaches far enough back: when it starts less than
      var `campaign_new_customer_min_history_days` (default 30) days before the
      campaign, a first purchase in the window may just be the first one on record,
      and is_new_customer is NULL (unknown);
    - coupons of this campaign issued to and redeemed by the member;
    - pre-period net revenue: the member's receipts in the var `cuped_pre_period_days`
      (default 90) days before the window, the covariate of the CUPED estimate
      (mart_campaign_cuped).

    Purchases are the person's: the assigned member id is resolved to its golden member
    (int_member__identity_map) and receipts are read from fct_transactions, so campaign
    revenue uses the same member resolution, refund netting and margin as every other
    mart (card token, else mobile token, else the refunded sale's member). Coupons stay
    keyed by the assigned member id, as the marketing system issues them.
-#}
{%- set min_history_days = var('campaign_new_customer_min_history_days') %}
{%- set pre_period_days = var('cuped_pre_period_days') %}

with

assignments as (

    select * from {{ ref('msk_marketing__assignments') }}

),

campaigns as (

    select * from {{ ref('msk_marketing__campaigns') }}

),

transactions as (

    select * from {{ ref('fct_transactions') }}

),

identity_map as (

    select * from {{ ref('int_member__identity_map') }}

),

coupon_events as (

    select * from {{ ref('msk_marketing__coupon_events') }}

),

receipts as (

    select
        transaction_id,
        member_id,
        is_refund,
        business_date,
        net_revenue_amount,
        margin_amount
    from transactions
    where member_id is not null

),

golden_members as (

    select
        identifier_value as member_id,
        golden_member_id
    from identity_map
    where identifier_type = 'member_id'

),

history as (

    select min(business_date) as history_start_date from transactions

),

first_purchases as (

    select
        member_id,
        min(business_date) as first_purchase_date
    from receipts
    where not is_refund
    group by member_id

),

assigned as (

    select
        assignments.assignment_id,
        assignments.campaign_id,
        assignments.member_id,
        coalesce(golden_members.golden_member_id, assignments.member_id) as golden_member_id,
        assignments.arm,
        assignments.is_treatment,
        assignments.assigned_at,
        campaigns.start_date,
        campaigns.end_date

    from assignments
    inner join campaigns on assignments.campaign_id = campaigns.campaign_id
    left join golden_members on assignments.member_id = golden_members.member_id

),

window_purchases as (

    select
        assigned.assignment_id,
        sum(case when not receipts.is_refund then 1 else 0 end) as sale_receipt_count,
        sum(receipts.net_revenue_amount) as net_revenue_amount,
        sum(receipts.margin_amount) as margin_amount

    from assigned
    inner join receipts
        on assigned.golden_member_id = receipts.member_id
        and receipts.business_date between assigned.start_date and assigned.end_date
    group by assigned.assignment_id

),

pre_period_purchases as (

    select
        assigned.assignment_id,
        sum(receipts.net_revenue_amount) as net_revenue_amount

    from assigned
    inner join receipts
        on assigned.golden_member_id = receipts.member_id
        and {{ dbt.dateadd('day', -1 * pre_period_days, 'assigned.start_date') }}
        <= receipts.business_date
        and assigned.start_date > receipts.business_date
    group by assigned.assignment_id

),

coupons as (

    select
        campaign_id,
        member_id,
        sum(case when event_type = 'issued' then 1 else 0 end) as coupons_issued,
        sum(case when event_type = 'redeemed' then 1 else 0 end) as coupons_redeemed

    from coupon_events
    group by campaign_id, member_id

),

final as (

    select
        assigned.assignment_id,
        assigned.campaign_id,
        assigned.member_id,
        assigned.arm,
        assigned.is_treatment,
        assigned.assigned_at,
        assigned.start_date,
        assigned.end_date,
        cast(
            coalesce(window_purchases.sale_receipt_count, 0)
            as {{ dbt.type_int() }}
        ) as sale_receipt_count,
        coalesce(window_purchases.sale_receipt_count, 0) > 0 as is_converted,
        {{ cast_amount('coalesce(window_purchases.net_revenue_amount, 0)') }} as net_revenue_amount,
        {{ cast_amount('coalesce(window_purchases.margin_amount, 0)') }} as margin_amount,
        first_purchases.first_purchase_date,
        case
            when history.history_start_date is null
                or history.history_start_date
                > {{ dbt.dateadd('day', -1 * min_history_days, 'assigned.start_date') }}
                then null
            else coalesce(
                    first_purchases.first_purchase_date
                    between assigned.start_date and assigned.end_date,
                    false
                )
        end as is_new_customer,
        cast(coalesce(coupons.coupons_issued, 0) as {{ dbt.type_int() }}) as coupons_issued,
        cast(coalesce(coupons.coupons_redeemed, 0) as {{ dbt.type_int() }}) as coupons_redeemed,
        {{ cast_amount('coalesce(pre_period_purchases.net_revenue_amount, 0)') }}
            as pre_period_net_revenue_amount

    from assigned
    cross join history
    left join window_purchases on assigned.assignment_id = window_purchases.assignment_id
    left join pre_period_purchases on assigned.assignment_id = pre_period_purchases.assignment_id
    left join first_purchases on assigned.golden_member_id = first_purchases.member_id
    left join coupons
        on assigned.campaign_id = coupons.campaign_id
        and assigned.member_id = coupons.member_id

)

select * from final
