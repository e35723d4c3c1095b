{#-
    The merge audit (身份图谱/合并审计): every identifier merged into a golden member, with
    the links that brought it in and how far it sits from the golden member's own id
    (breadth-first over the identity graph, up to var('identity_audit_max_hops') edges).
-#}
{%- set edge_types = [
    'device_login', 'device_openid', 'member_card', 'member_mobile', 'openid_binding', 'openid_unionid',
] %}
with

identity_map as (

    select * from {{ ref('int_member__identity_map') }}

),

graph as (

    select * from {{ ref('int_member__identity_graph') }}

),

endpoints as (

    select
        from_node as node_id,
        from_node_type as node_type,
        from_node_value as node_value,
        to_node as neighbour_id,
        edge_type,
        first_seen_at
    from graph
    union all
    select
        to_node as node_id,
        to_node_type as node_type,
        to_node_value as node_value,
        from_node as neighbour_id,
        edge_type,
        first_seen_at
    from graph

),

node_links as (

    select
        node_type,
        node_value,
        min(first_seen_at) as first_seen_at
    from endpoints
    group by node_type, node_value

),

edge_type_lists as (

    -- the kinds of links, alphabetically (concat_ws skips the NULLs of kinds not present)
    select
        node_type,
        node_value,
        concat_ws(
            ', ',
            {%- for edge_type in edge_types %}
            max(case when edge_type = '{{ edge_type }}' then '{{ edge_type }}' end){{ ',' if not loop.last }}
            {%- endfor %}
        ) as via_edge_types
    from endpoints
    group by node_type, node_value

),

adjacency as (

    select
        node_id,
        neighbour_id
    from endpoints
    union all
    select distinct
        node_id,
        node_id as neighbour_id
    from endpoints

),

hops_0 as (

    -- the golden members' own ids are 0 hops away
    select
        'member_id:' || golden_member_id as node_id,
        0 as hops
    from identity_map
    where
        identifier_type = 'member_id'
        and identifier_value = golden_member_id

),
{%- for i in range(1, var('identity_audit_max_hops') + 1) %}

hops_{{ i }} as (

    select
        adjacency.node_id,
        min(hops_{{ i - 1 }}.hops + case when adjacency.node_id = adjacency.neighbour_id then 0 else 1 end)
            as hops
    from adjacency
    inner join hops_{{ i - 1 }}
        on adjacency.neighbour_id = hops_{{ i - 1 }}.node_id
    group by adjacency.node_id

),
{%- endfor %}

clusters as (

    select
        golden_member_id,
        count(*) as cluster_identifiers,
        sum(case when identifier_type = 'member_id' then 1 else 0 end) as cluster_member_records
    from identity_map
    group by golden_member_id

),

final as (

    select
        identity_map.identity_key as merge_key,
        identity_map.golden_member_id,
        identity_map.identifier_type,
        case when identity_map.identifier_type = 'member_id' then identity_map.identifier_value end
            as merged_member_id,
        case when identity_map.identifier_type <> 'member_id' then identity_map.identifier_value end
            as identifier_token,
        identity_map.identifier_type = 'member_id' as is_record_merge,
        identity_map.is_historical_identifier,
        edge_type_lists.via_edge_types,
        cast(hops_final.hops as {{ dbt.type_int() }}) as hops,
        node_links.first_seen_at,
        cast(clusters.cluster_identifiers as {{ dbt.type_int() }}) as cluster_identifiers,
        cast(clusters.cluster_member_records as {{ dbt.type_int() }}) as cluster_member_records
    from identity_map
    inner join clusters
        on identity_map.golden_member_id = clusters.golden_member_id
    left join edge_type_lists
        on identity_map.identifier_type = edge_type_lists.node_type
        and identity_map.identifier_value = edge_type_lists.node_value
    left join node_links
        on identity_map.identifier_type = node_links.node_type
        and identity_map.identifier_value = node_links.node_value
    left join hops_{{ var('identity_audit_max_hops') }} as hops_final
        on identity_map.identifier_type || ':' || identity_map.identifier_value = hops_final.node_id
    where not (
            identity_map.identifier_type = 'member_id'
            and identity_map.identifier_value = identity_map.golden_member_id
        )

)

select * from final
