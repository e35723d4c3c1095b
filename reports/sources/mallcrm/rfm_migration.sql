-- Segment migration matrix (客群迁移): members moving between RFM segments month over month.
-- dashboard-filters: date=snapshot_month, segment=from_segment
-- dashboard-ignores store: RFM scores a member over every store
select
    snapshot_month,
    from_segment,
    to_segment,
    member_count,
    share_of_from_segment
from marts.mart_rfm_segment_migration
order by snapshot_month, from_segment, to_segment
