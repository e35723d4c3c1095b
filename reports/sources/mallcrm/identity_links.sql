-- Identity resolution (身份图谱/合并审计): the identifiers merged into golden members, by kind
-- and by the links that brought them in, with their distance from the member's own id.
-- Counts only: no member id or token leaves the merge audit.
-- dashboard-filters: date=first_seen_date
-- dashboard-ignores store: identifiers belong to people, not to stores
-- dashboard-ignores segment: the identity graph covers every member
select
    cast(first_seen_at as date) as first_seen_date,
    identifier_type,
    via_edge_types,
    count(*) as identifier_count,
    sum(case when is_record_merge then 1 else 0 end) as record_merge_count,
    avg(hops) as average_hops,
    max(hops) as max_hops
from marts.mart_identity_merges
where first_seen_at is not null
group by cast(first_seen_at as date), identifier_type, via_edge_types
order by first_seen_date, identifier_type, via_edge_types
