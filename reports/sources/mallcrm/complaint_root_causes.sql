-- Complaint root causes (投诉根因) by month and store category, from the scrubbed complaint text
-- (jieba terms, keyword table ml/complaint_root_causes.yml): complaints, share, top terms.
-- dashboard-filters: date=month_start_date
-- dashboard-ignores store: root causes are counted per store category (`mall`: no store), not per store
-- dashboard-ignores segment: complaints are not split by RFM segment
select
    month_start_date,
    store_category,
    root_cause,
    root_cause_label,
    complaint_count,
    group_complaint_count,
    complaint_share,
    top_term_1,
    top_term_2,
    top_term_3
from marts.mart_complaint_root_causes_monthly
order by month_start_date, store_category, complaint_count desc, root_cause
