{{
    config(
        schema='ml_features',
        materialized='table',
        tags=['ml'],
    )
}}
{#-
    Behavioural features for customer segmentation (ml/segmentation.py): one row per
    member with a sale in the var `ml_segment_window_days` (default 365) days up to the
    cutoff t0 = var `ml_cutoff_date` or the latest POS business date.

    Point in time like ml_member_features: a cutoff is the end of its day and only
    events dated on or before it count, so the row of a given cutoff never changes when
    later data arrives. Shares, not amounts: segments describe how a member shops, not
    how much (value is the CLV model's job).

    Category mix: share of net line revenue per store category in var
    `ml_segment_categories` (the mall's category list); anything else is `other`.
-#}
{%- set window = var('ml_segment_window_days') | int %}
{%- set categories = var('ml_segment_categories') %}
with

transactions as (

    select * from {{ ref('fct_transactions') }}
    where member_id is not null and not is_refund

),

sales_lines as (

    select * from {{ ref('fct_sales_lines') }}
    where member_id is not null and not is_refund

),

stores as (

    select * from {{ ref('dim_store') }}

),

members as (

    select * from {{ ref('dim_member') }}

),

cutoff as (

    {%- if var('ml_cutoff_date') %}
    select cast('{{ var("ml_cutoff_date") }}' as date) as cutoff_date
    {%- else %}
    select cast(max(business_date) as date) as cutoff_date
    from transactions
    {%- endif %}

),

window_transactions as (

    select
        transactions.member_id,
        transactions.has_coupon,
        transactions.gross_amount,
        transactions.discount_amount,
        extract(hour from transactions.transaction_at) as hour_of_day
    from transactions
    cross join cutoff
    where transactions.business_date <= cutoff.cutoff_date
        and transactions.business_date > {{ dbt.dateadd('day', -window, 'cutoff.cutoff_date') }}

),

receipt_agg as (

    select
        member_id,
        count(*) as orders,
        sum(case when hour_of_day < 12 then 1 else 0 end) as morning_orders,
        sum(case when hour_of_day >= 12 and hour_of_day < 17 then 1 else 0 end) as afternoon_orders,
        sum(case when hour_of_day >= 17 then 1 else 0 end) as evening_orders,
        sum(case when has_coupon then 1 else 0 end) as coupon_orders,
        sum(discount_amount) as discount,
        sum(gross_amount) as gross
    from window_transactions
    group by member_id

),

window_lines as (

    select
        sales_lines.member_id,
        coalesce(stores.store_category, 'other') as store_category,
        sales_lines.net_revenue_amount
    from sales_lines
    cross join cutoff
    left join stores
        on sales_lines.store_id = stores.store_id
    where sales_lines.business_date <= cutoff.cutoff_date
        and sales_lines.business_date > {{ dbt.dateadd('day', -window, 'cutoff.cutoff_date') }}

),

category_agg as (

    select
        member_id,
        {%- for category in categories %}
        sum(case when store_category = '{{ category }}' then net_revenue_amount else 0 end) as spend_{{ category }},
        {%- endfor %}
        -- the categories render on one line, too long for the linter
        sum(
            case
                when store_category not in ('{{ categories | join("', '") }}') then net_revenue_amount  -- noqa: LT05
                else 0
            end
        ) as spend_other,
        sum(net_revenue_amount) as spend_total
    from window_lines
    group by member_id

),

final as (

    select
        receipt_agg.member_id,
        cutoff.cutoff_date,
        {{ window }} as window_days,
        cast(receipt_agg.orders as double) as orders,
        {%- for category in categories + ['other'] %}
        cast(coalesce(category_agg.spend_{{ category }} / nullif(category_agg.spend_total, 0), 0) as double)
            as share_{{ category }},
        {%- endfor %}
        cast(receipt_agg.morning_orders as double) / receipt_agg.orders as share_morning,
        cast(receipt_agg.afternoon_orders as double) / receipt_agg.orders as share_afternoon,
        cast(receipt_agg.evening_orders as double) / receipt_agg.orders as share_evening,
        cast(coalesce(receipt_agg.discount / nullif(receipt_agg.gross, 0), 0) as double) as discount_share,
        cast(receipt_agg.coupon_orders as double) / receipt_agg.orders as coupon_order_share,
        cast(case when members.family_group_id is not null then 1 else 0 end as double) as in_family_group

    from receipt_agg
    cross join cutoff
    inner join members
        on receipt_agg.member_id = members.member_id
    left join category_agg
        on receipt_agg.member_id = category_agg.member_id

)

select * from final
