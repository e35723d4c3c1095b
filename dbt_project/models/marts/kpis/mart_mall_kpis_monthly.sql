{#-
    The mall's headline retail KPIs per month: net revenue, sale receipts, average order
    value (客单价), items per receipt (连带率), members who bought and the repurchase rate
    (复购率: members with sale receipts on two or more days of the month / members with
    a sale receipt in it), complaints opened per 1,000 sale receipts (投诉率) and the
    points redemption and breakage rates (积分兑换率, 过期率: points redeemed or expired
    / points earned in the month).
-#}

with

transactions as (

    select * from {{ ref('fct_transactions') }}

),

complaints as (

    select * from {{ ref('fct_complaints') }}

),

points as (

    select * from {{ ref('fct_points_events') }}

),

sales as (

    select
        cast({{ dbt.date_trunc('month', 'business_date') }} as date) as month_start_date,
        sum(net_revenue_amount) as net_revenue_amount,
        sum(case when is_refund then 0 else 1 end) as sale_receipt_count,
        sum(units) as units_sold
    from transactions
    group by cast({{ dbt.date_trunc('month', 'business_date') }} as date)

),

member_days as (

    select
        cast({{ dbt.date_trunc('month', 'business_date') }} as date) as month_start_date,
        member_id,
        count(distinct business_date) as purchase_days
    from transactions
    where member_id is not null and not is_refund
    group by cast({{ dbt.date_trunc('month', 'business_date') }} as date), member_id

),

buyers as (

    select
        month_start_date,
        count(*) as member_buyer_count,
        sum(case when purchase_days >= 2 then 1 else 0 end) as repeat_buyer_count
    from member_days
    group by month_start_date

),

complaints_opened as (

    select
        cast({{ dbt.date_trunc('month', 'business_date') }} as date) as month_start_date,
        count(*) as complaint_count
    from complaints
    group by cast({{ dbt.date_trunc('month', 'business_date') }} as date)

),

points_moved as (

    select
        cast({{ dbt.date_trunc('month', 'business_date') }} as date) as month_start_date,
        sum(case when entry_type = 'earn' then points else 0 end) as points_earned,
        sum(case when entry_type = 'redeem' then -points else 0 end) as points_redeemed,
        sum(case when entry_type = 'expire' then -points else 0 end) as points_expired
    from points
    group by cast({{ dbt.date_trunc('month', 'business_date') }} as date)

),

final as (

    select
        sales.month_start_date,
        {{ cast_amount('sales.net_revenue_amount') }} as net_revenue_amount,
        cast(sales.sale_receipt_count as {{ dbt.type_bigint() }}) as sale_receipt_count,
        cast(sales.units_sold as {{ dbt.type_bigint() }}) as units_sold,
        cast(sales.net_revenue_amount as {{ double_type() }})
        / nullif(sales.sale_receipt_count, 0) as average_order_value,
        cast(sales.units_sold as {{ double_type() }})
        / nullif(sales.sale_receipt_count, 0) as items_per_receipt,
        cast(coalesce(buyers.member_buyer_count, 0) as {{ dbt.type_bigint() }}) as member_buyer_count,
        cast(coalesce(buyers.repeat_buyer_count, 0) as {{ dbt.type_bigint() }}) as repeat_buyer_count,
        cast(buyers.repeat_buyer_count as {{ double_type() }})
        / nullif(buyers.member_buyer_count, 0) as repurchase_rate,
        cast(coalesce(complaints_opened.complaint_count, 0) as {{ dbt.type_bigint() }}) as complaint_count,
        cast(1000 * coalesce(complaints_opened.complaint_count, 0) as {{ double_type() }})
        / nullif(sales.sale_receipt_count, 0) as complaints_per_1000_receipts,
        cast(coalesce(points_moved.points_earned, 0) as {{ dbt.type_bigint() }}) as points_earned,
        cast(coalesce(points_moved.points_redeemed, 0) as {{ dbt.type_bigint() }}) as points_redeemed,
        cast(coalesce(points_moved.points_expired, 0) as {{ dbt.type_bigint() }}) as points_expired,
        cast(points_moved.points_redeemed as {{ double_type() }})
        / nullif(points_moved.points_earned, 0) as points_redemption_rate,
        cast(points_moved.points_expired as {{ double_type() }})
        / nullif(points_moved.points_earned, 0) as points_breakage_rate

    from sales
    left join buyers on sales.month_start_date = buyers.month_start_date
    left join complaints_opened on sales.month_start_date = complaints_opened.month_start_date
    left join points_moved on sales.month_start_date = points_moved.month_start_date

)

select * from final
