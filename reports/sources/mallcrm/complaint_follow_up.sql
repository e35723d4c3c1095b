-- Follow-up satisfaction (回访满意度): scores customers gave at the follow-up visit after a complaint,
-- by month, complaint category and severity; satisfied = score 4-5.
-- dashboard-filters: date=month_start_date
-- dashboard-ignores store: counted mall-wide by category, storeless complaints (parking, facilities) included; complaint_rates has it per store
-- dashboard-ignores segment: complaints are not split by RFM segment
select
    month_start_date,
    complaint_category,
    severity,
    complaint_count,
    follow_up_scored_count,
    follow_up_satisfied_count,
    avg_follow_up_satisfaction,
    follow_up_satisfied_share
from marts.mart_complaint_sla
order by month_start_date, complaint_category, severity
