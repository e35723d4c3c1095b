-- Members' lifetime spend in mart_member_360 equals the net revenue of their receipts
-- up to the as-of date in fct_transactions (sales minus refunds): refunds are netted
-- once, not dropped and not double counted.
with

as_of as (

    select * from {{ ref('int_member__as_of_date') }}

),

from_facts as (

    select sum(transactions.net_revenue_amount) as net_revenue_amount
    from {{ ref('fct_transactions') }} as transactions
    inner join {{ ref('dim_member') }} as members
        on transactions.member_id = members.member_id
    cross join as_of
    where transactions.business_date <= as_of.as_of_date

),

from_mart as (

    select sum(lifetime_spend) as lifetime_spend
    from {{ ref('mart_member_360') }}

)

select *
from from_facts
cross join from_mart
where abs(coalesce(from_facts.net_revenue_amount, 0) - coalesce(from_mart.lifetime_spend, 0)) > 0.01
