{{ config(materialized='table') }}
{#-
    Every active golden member on each snapshot day (month ends and the as-of date):
    the tier of the member record valid at the end of that day (the highest when
    several records merged into one golden member), the rolling 12-month net spend to
    that day, the VIP flag (macro loyalty_is_vip) and the member's net spend and sale
    receipts in the snapshot's month. The tier distribution, the benefits per tier and
    the VIP programme all count members from here, so they agree.
-#}
with

member_versions as (

    select * from {{ ref('msk_membership__members_history') }}

),

identity_map as (

    select * from {{ ref('int_member__identity_map') }}
    where identifier_type = 'member_id'

),

snapshots as (

    select * from {{ ref('int_member__snapshot_dates') }}

),

activity as (

    select * from {{ ref('int_member__daily_activity') }}

),

valid_versions as (

    select
        snapshots.snapshot_date,
        identity_map.golden_member_id as member_id,
        member_versions.tier,
        row_number() over (
            partition by snapshots.snapshot_date, identity_map.golden_member_id
            order by member_versions.tier_rank desc, member_versions.member_id asc
        ) as tier_pick
    from snapshots
    inner join member_versions
        on member_versions.valid_from_at < {{ dbt.dateadd('day', 1, 'snapshots.snapshot_date') }}
        and (
            member_versions.valid_to_at is null
            or member_versions.valid_to_at >= {{ dbt.dateadd('day', 1, 'snapshots.snapshot_date') }}
        )
    inner join identity_map
        on member_versions.member_id = identity_map.identifier_value
    where member_versions.is_active

),

spend as (

    select
        snapshots.snapshot_date,
        activity.member_id,
        sum(activity.net_spend_amount) as rolling_12m_spend,
        sum(case
            when activity.business_date >= snapshots.snapshot_month then activity.net_spend_amount
            else 0
        end) as month_spend,
        sum(case
            when activity.business_date >= snapshots.snapshot_month then activity.sale_orders
            else 0
        end) as month_sale_orders
    from snapshots
    inner join activity
        on snapshots.snapshot_date >= activity.business_date
        and {{ dbt.dateadd('month', -12, 'snapshots.snapshot_date') }} < activity.business_date
    group by snapshots.snapshot_date, activity.member_id

),

final as (

    select
        {{ surrogate_key(['valid_versions.snapshot_date', 'valid_versions.member_id']) }} as member_snapshot_id,
        snapshots.snapshot_month,
        valid_versions.snapshot_date,
        snapshots.is_current as is_current_month,
        valid_versions.member_id,
        valid_versions.tier,
        cast({{ tier_rank('valid_versions.tier') }} as {{ dbt.type_int() }}) as tier_rank,
        {{ cast_amount('coalesce(spend.rolling_12m_spend, 0)') }} as rolling_12m_spend,
        {{ loyalty_is_vip('coalesce(spend.rolling_12m_spend, 0)') }} as is_vip,
        {{ cast_amount('coalesce(spend.month_spend, 0)') }} as month_spend_amount,
        cast(coalesce(spend.month_sale_orders, 0) as {{ dbt.type_int() }}) as month_sale_orders
    from valid_versions
    inner join snapshots
        on valid_versions.snapshot_date = snapshots.snapshot_date
    left join spend
        on valid_versions.snapshot_date = spend.snapshot_date
        and valid_versions.member_id = spend.member_id
    where valid_versions.tier_pick = 1

)

select * from final
