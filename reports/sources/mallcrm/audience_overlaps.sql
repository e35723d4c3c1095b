-- Audience overlaps (人群重叠): per run date, every pair of audiences and the eligible members they share, with the Jaccard index.
-- dashboard-filters: date=run_date
-- dashboard-ignores store: audiences are chosen mall-wide, not per store
-- dashboard-ignores segment: audiences are defined by their own rules, not by RFM segment
select
    run_date,
    audience,
    other_audience,
    shared_member_count,
    audience_member_count,
    other_audience_member_count,
    jaccard_index
from marts.mart_audience_overlaps
order by run_date, audience, other_audience
