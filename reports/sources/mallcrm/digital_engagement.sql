-- Online engagement by month (全渠道互动): members active in the app or the WeChat mini-program,
-- check-ins (签到), coupon claims (领券), activity sign-ups (活动报名) and attendance (到场率), and
-- the anonymous browsing the identity graph attributed once the device logged in.
-- dashboard-filters: date=month_start_date
-- dashboard-ignores store: online events belong to the mall, not to a store
-- dashboard-ignores segment: every member's app and mini-program events count
select
    month_start_date,
    registered_members,
    digital_active_members,
    digital_engaged_share,
    page_views,
    check_ins,
    games_played,
    coupon_claims,
    activity_signups,
    held_activity_signups,
    activity_attendees,
    attendance_rate,
    anonymous_events,
    attributed_anonymous_events,
    anonymous_attribution_rate
from marts.mart_digital_engagement_monthly
order by month_start_date
