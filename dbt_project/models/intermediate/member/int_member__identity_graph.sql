{#-
    The identity graph: one row per edge between two identifiers of the same person.
    Nodes are `<identifier_type>:<value>` (member ids, and HMAC tokens of card numbers,
    mobiles, openids, unionids and device ids - never a clear value). Edges come from
    the current member records (card, mobile), the WeChat bindings (openid -> member,
    openid -> unionid) and the app events (a device a member logged in on, the openid a
    mini-program device used). int_member__identity_map finds the connected components.
-#}
with

members as (

    select * from {{ ref('msk_membership__members') }}

),

wechat_identities as (

    select * from {{ ref('msk_digital__wechat_identities') }}

),

app_events as (

    select * from {{ ref('msk_digital__app_events') }}

),

member_edges as (

    select
        'member_card' as edge_type,
        'member_id' as from_node_type,
        member_id as from_node_value,
        'card_no_token' as to_node_type,
        card_no_token as to_node_value,
        registered_at as first_seen_at
    from members
    where card_no_token is not null
    union all
    select
        'member_mobile' as edge_type,
        'member_id' as from_node_type,
        member_id as from_node_value,
        'mobile_token' as to_node_type,
        mobile_token as to_node_value,
        registered_at as first_seen_at
    from members
    where mobile_token is not null

),

wechat_edges as (

    select
        'openid_binding' as edge_type,
        'openid_token' as from_node_type,
        openid_token as from_node_value,
        'member_id' as to_node_type,
        member_id as to_node_value,
        updated_at as first_seen_at
    from wechat_identities
    where member_id is not null
    union all
    select
        'openid_unionid' as edge_type,
        'openid_token' as from_node_type,
        openid_token as from_node_value,
        'unionid_token' as to_node_type,
        unionid_token as to_node_value,
        first_seen_at
    from wechat_identities
    where unionid_token is not null

),

device_edges as (

    select
        'device_login' as edge_type,
        'device_id_token' as from_node_type,
        device_id_token as from_node_value,
        'member_id' as to_node_type,
        member_id as to_node_value,
        min(event_at) as first_seen_at
    from app_events
    where member_id is not null
    group by device_id_token, member_id
    union all
    select
        'device_openid' as edge_type,
        'device_id_token' as from_node_type,
        device_id_token as from_node_value,
        'openid_token' as to_node_type,
        openid_token as to_node_value,
        min(event_at) as first_seen_at
    from app_events
    where openid_token is not null
    group by device_id_token, openid_token

),

edges as (

    select * from member_edges
    union all
    select * from wechat_edges
    union all
    select * from device_edges

),

final as (

    select
        {{ surrogate_key(['edge_type', 'from_node_value', 'to_node_value']) }} as edge_id,
        edge_type,
        from_node_type,
        from_node_value,
        from_node_type || ':' || from_node_value as from_node,
        to_node_type,
        to_node_value,
        to_node_type || ':' || to_node_value as to_node,
        min(first_seen_at) as first_seen_at
    from edges
    group by edge_type, from_node_type, from_node_value, to_node_type, to_node_value

)

select * from final
