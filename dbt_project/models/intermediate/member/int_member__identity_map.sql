{#-
    Identity resolution: every identifier of a person -> one golden member id.

    The identifiers of a person are the connected components of the identity graph
    (int_member__identity_graph: member records sharing a card or mobile token, WeChat
    openids and unionids, devices). Components are found by min-label propagation with
    pointer jumping: each round the smallest label around a node goes to the node and to
    the node its label names (hooking), then every node takes its label's label twice
    (pointer jumping), so var('identity_graph_rounds') rounds resolve chains of 2^rounds
    edges and more, where plain propagation needs one round per edge (the singular test
    assert_identity_graph_fully_resolved fails when the rounds were not enough). The
    golden id is the smallest member id of the component; components without a member (devices that never logged in) resolve to nobody yet.
    Identifiers of earlier record versions (an old card or mobile) still resolve, but a
    current record's claim on a token wins over a historical one.
-#}
with

members as (

    select * from {{ ref('msk_membership__members') }}

),

member_versions as (

    select * from {{ ref('msk_membership__members_history') }}

),

graph as (

    select * from {{ ref('int_member__identity_graph') }}

),

nodes as (

    select distinct
        from_node as node_id,
        from_node_type as node_type,
        from_node_value as node_value
    from graph
    union
    select distinct
        to_node as node_id,
        to_node_type as node_type,
        to_node_value as node_value
    from graph

),

-- both directions of every edge, and every node with itself (a node keeps its label)
adjacency as (

    select
        from_node as node_id,
        to_node as neighbour_id
    from graph
    union all
    select
        to_node as node_id,
        from_node as neighbour_id
    from graph
    union all
    select
        node_id,
        node_id as neighbour_id
    from nodes

),

-- each row of a step read twice: for its own node, and for the node its label names
roles as (

    select 'self' as node_role
    union all
    select 'pointer' as node_role

),

labels_0 as (

    select
        node_id,
        node_id as component_label
    from nodes

),
{%- for i in range(1, var('identity_graph_rounds') + 1) %}

neighbour_labels_{{ i }} as (

    select
        adjacency.node_id,
        adjacency.neighbour_id,
        labels_{{ i - 1 }}.component_label
    from adjacency
    inner join labels_{{ i - 1 }}
        on adjacency.neighbour_id = labels_{{ i - 1 }}.node_id

),

minima_{{ i }} as (

    -- a node's own label (its self loop) and the smallest label around it
    select
        node_id,
        min(case when neighbour_id = node_id then component_label end) as component_label,
        min(component_label) as neighbour_min
    from neighbour_labels_{{ i }}
    group by node_id

),

hooks_{{ i }} as (

    -- the smallest label around a node goes to the node and to the node its label names (hooking)
    select
        case
            when roles.node_role = 'self' then minima_{{ i }}.node_id
            else minima_{{ i }}.component_label
        end as node_id,
        minima_{{ i }}.neighbour_min as component_label
    from minima_{{ i }}
    cross join roles

),

jump_{{ i }}_0 as (

    select
        node_id,
        min(component_label) as component_label
    from hooks_{{ i }}
    group by node_id

),
{%- for j in range(1, 3) %}

lookups_{{ i }}_{{ j }} as (

    select
        jump_{{ i }}_{{ j - 1 }}.node_id,
        jump_{{ i }}_{{ j - 1 }}.component_label,
        roles.node_role,
        case
            when roles.node_role = 'self' then jump_{{ i }}_{{ j - 1 }}.node_id
            else jump_{{ i }}_{{ j - 1 }}.component_label
        end as lookup_id
    from jump_{{ i }}_{{ j - 1 }}
    cross join roles

),

looked_up_{{ i }}_{{ j }} as (

    select
        node_id,
        component_label,
        node_role,
        min(case when node_role = 'self' then component_label end) over (partition by lookup_id) as parent_label
    from lookups_{{ i }}_{{ j }}

),

jump_{{ i }}_{{ j }} as (

    -- pointer jumping: a node's label becomes its label's label when that is smaller
    select
        node_id,
        least(component_label, parent_label) as component_label
    from looked_up_{{ i }}_{{ j }}
    where node_role = 'pointer'

),
{%- endfor %}

labels_{{ i }} as (

    select * from jump_{{ i }}_2

),
{%- endfor %}

components as (

    select
        labels_{{ var('identity_graph_rounds') }}.node_id,
        nodes.node_type,
        nodes.node_value,
        min(members.member_id) over (partition by labels_{{ var('identity_graph_rounds') }}.component_label)
            as golden_member_id
    from labels_{{ var('identity_graph_rounds') }}
    inner join nodes
        on labels_{{ var('identity_graph_rounds') }}.node_id = nodes.node_id
    left join members
        on nodes.node_type = 'member_id'
        and nodes.node_value = members.member_id

),

golden as (

    select
        node_value as member_id,
        golden_member_id
    from components
    where node_type = 'member_id'
    union all
    -- a member record without any edge is its own person
    select
        members.member_id,
        members.member_id as golden_member_id
    from members
    where not exists (
            select 1 from components
            where components.node_type = 'member_id' and components.node_value = members.member_id
        )

),

identifiers as (

    -- priority 1: the current record's own identifiers
    select
        'member_id' as identifier_type,
        member_id as identifier_value,
        member_id,
        1 as claim_priority,
        updated_at
    from members
    union all
    select
        'card_no_token' as identifier_type,
        card_no_token as identifier_value,
        member_id,
        1 as claim_priority,
        updated_at
    from members
    where card_no_token is not null
    union all
    select
        'mobile_token' as identifier_type,
        mobile_token as identifier_value,
        member_id,
        1 as claim_priority,
        updated_at
    from members
    where mobile_token is not null
    union all
    -- priority 2: identifiers of earlier versions (old card, old mobile)
    select
        'card_no_token' as identifier_type,
        card_no_token as identifier_value,
        member_id,
        2 as claim_priority,
        updated_at
    from member_versions
    where card_no_token is not null
    union all
    select
        'mobile_token' as identifier_type,
        mobile_token as identifier_value,
        member_id,
        2 as claim_priority,
        updated_at
    from member_versions
    where mobile_token is not null

),

claims as (

    select
        identifiers.identifier_type,
        identifiers.identifier_value,
        identifiers.member_id,
        golden.golden_member_id,
        identifiers.claim_priority,
        row_number() over (
            partition by identifiers.identifier_type, identifiers.identifier_value
            order by
                identifiers.claim_priority asc,
                golden.golden_member_id asc,
                identifiers.updated_at desc,
                identifiers.member_id asc
        ) as claim_rank
    from identifiers
    inner join golden
        on identifiers.member_id = golden.member_id

),

-- openids, unionids and devices of a component with a member: they resolve to its golden member
digital_identifiers as (

    select
        node_type as identifier_type,
        node_value as identifier_value,
        golden_member_id as member_id,
        golden_member_id
    from components
    where
        node_type in ('openid_token', 'unionid_token', 'device_id_token')
        and golden_member_id is not null

),

final as (

    select
        {{ surrogate_key(['identifier_type', 'identifier_value']) }} as identity_key,
        identifier_type,
        identifier_value,
        member_id as source_member_id,
        golden_member_id,
        claim_priority = 2 as is_historical_identifier
    from claims
    where claim_rank = 1
    union all
    select
        {{ surrogate_key(['identifier_type', 'identifier_value']) }} as identity_key,
        identifier_type,
        identifier_value,
        member_id as source_member_id,
        golden_member_id,
        false as is_historical_identifier
    from digital_identifiers

)

select * from final
