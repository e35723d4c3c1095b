{#-
    Online engagement per month (全渠道互动): members active in the app or the mini-program,
    their check-ins, games, coupon claims and activity sign-ups, the attendance of the
    month's activities, and how much anonymous browsing the identity graph attributed.
-#}
with

events as (

    select * from {{ ref('fct_digital_events') }}

),

signups as (

    select * from {{ ref('msk_digital__activity_signups') }}

),

members as (

    select * from {{ ref('dim_member') }}

),

monthly_events as (

    select
        cast({{ dbt.date_trunc('month', 'business_date') }} as date) as month_start_date,
        count(distinct member_id) as digital_active_members,
        sum(case when event_type = 'page_view' then 1 else 0 end) as page_views,
        sum(case when event_type = 'check_in' then 1 else 0 end) as check_ins,
        sum(case when event_type = 'game' then 1 else 0 end) as games_played,
        sum(case when event_type = 'coupon_claim' then 1 else 0 end) as coupon_claims,
        sum(case when event_type = 'activity_signup' then 1 else 0 end) as activity_signups,
        sum(case when is_anonymous_event then 1 else 0 end) as anonymous_events,
        sum(case when is_attributed_later then 1 else 0 end) as attributed_anonymous_events
    from events
    group by cast({{ dbt.date_trunc('month', 'business_date') }} as date)

),

attendance as (

    -- activities held in the month: their sign-ups, and who came
    select
        cast({{ dbt.date_trunc('month', 'activity_date') }} as date) as month_start_date,
        count(*) as held_signups,
        sum(case when is_attended then 1 else 0 end) as attendees
    from signups
    where signup_status in ('attended', 'no_show')
    group by cast({{ dbt.date_trunc('month', 'activity_date') }} as date)

),

registered as (

    select
        monthly_events.month_start_date,
        count(members.member_id) as registered_members
    from monthly_events
    inner join members
        on cast({{ dbt.date_trunc('month', 'members.registration_date') }} as date) <= monthly_events.month_start_date
    group by monthly_events.month_start_date

),

final as (

    select
        monthly_events.month_start_date,
        cast(coalesce(registered.registered_members, 0) as {{ dbt.type_bigint() }}) as registered_members,
        cast(monthly_events.digital_active_members as {{ dbt.type_bigint() }}) as digital_active_members,
        cast(monthly_events.digital_active_members as {{ double_type() }})
        / nullif(registered.registered_members, 0) as digital_engaged_share,
        cast(monthly_events.page_views as {{ dbt.type_bigint() }}) as page_views,
        cast(monthly_events.check_ins as {{ dbt.type_bigint() }}) as check_ins,
        cast(monthly_events.games_played as {{ dbt.type_bigint() }}) as games_played,
        cast(monthly_events.coupon_claims as {{ dbt.type_bigint() }}) as coupon_claims,
        cast(monthly_events.activity_signups as {{ dbt.type_bigint() }}) as activity_signups,
        cast(coalesce(attendance.held_signups, 0) as {{ dbt.type_bigint() }}) as held_activity_signups,
        cast(coalesce(attendance.attendees, 0) as {{ dbt.type_bigint() }}) as activity_attendees,
        cast(attendance.attendees as {{ double_type() }})
        / nullif(attendance.held_signups, 0) as attendance_rate,
        cast(monthly_events.anonymous_events as {{ dbt.type_bigint() }}) as anonymous_events,
        cast(monthly_events.attributed_anonymous_events as {{ dbt.type_bigint() }}) as attributed_anonymous_events,
        cast(monthly_events.attributed_anonymous_events as {{ double_type() }})
        / nullif(monthly_events.anonymous_events, 0) as anonymous_attribution_rate
    from monthly_events
    left join registered
        on monthly_events.month_start_date = registered.month_start_date
    left join attendance
        on monthly_events.month_start_date = attendance.month_start_date

)

select * from final
