-- Every edge of the identity graph joins two identifiers of the same golden member (or two
-- identifiers of nobody yet): an edge across two clusters means var('identity_graph_rounds')
-- rounds of label propagation were not enough for the longest chain; raise it.
with

graph as (

    select * from {{ ref('int_member__identity_graph') }}

),

identity_map as (

    select * from {{ ref('int_member__identity_map') }}

)

select
    graph.edge_id,
    graph.edge_type,
    from_identity.golden_member_id as from_golden_member_id,
    to_identity.golden_member_id as to_golden_member_id
from graph
left join identity_map as from_identity
    on graph.from_node_type = from_identity.identifier_type
    and graph.from_node_value = from_identity.identifier_value
left join identity_map as to_identity
    on graph.to_node_type = to_identity.identifier_type
    and graph.to_node_value = to_identity.identifier_value
where
    coalesce(from_identity.golden_member_id, '') <> coalesce(to_identity.golden_member_id, '')
