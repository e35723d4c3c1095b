{#-
    A table rebuilt every run, not incremental: an anonymous event is attributed when its
    device logs in later, so rows already written change their member.
-#}
with

app_events as (

    select * from {{ ref('msk_digital__app_events') }}

),

identity_map as (

    select * from {{ ref('int_member__identity_map') }}

),

resolved as (

    select
        app_events.event_id,
        app_events.member_id as event_member_id,
        coalesce(
            by_member.golden_member_id,
            by_device.golden_member_id,
            by_openid.golden_member_id
        ) as member_id,
        case
            when by_member.golden_member_id is not null then 'login'
            when by_device.golden_member_id is not null then 'device'
            when by_openid.golden_member_id is not null then 'openid'
        end as resolved_via,
        app_events.is_anonymous as is_anonymous_event,
        app_events.event_channel,
        app_events.event_type,
        app_events.page_name,
        app_events.activity_id,
        app_events.event_at,
        app_events.business_date,
        app_events._loaded_at
    from app_events
    left join identity_map as by_member
        on by_member.identifier_type = 'member_id'
        and app_events.member_id = by_member.identifier_value
    left join identity_map as by_device
        on by_device.identifier_type = 'device_id_token'
        and app_events.device_id_token = by_device.identifier_value
    left join identity_map as by_openid
        on by_openid.identifier_type = 'openid_token'
        and app_events.openid_token = by_openid.identifier_value

),

final as (

    select
        event_id,
        member_id,
        event_member_id,
        resolved_via,
        is_anonymous_event,
        is_anonymous_event and member_id is not null as is_attributed_later,
        event_channel,
        event_type,
        page_name,
        activity_id,
        event_at,
        business_date,
        _loaded_at
    from resolved

)

select * from final
