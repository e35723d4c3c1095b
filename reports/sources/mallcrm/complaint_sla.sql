-- Complaint SLA (投诉时效): breach rates by month, category and severity; escalations; compensation.
-- dashboard-filters: date=month_start_date
-- dashboard-ignores store: the SLA mart counts complaints mall-wide by category (the breach-rate card is per store)
-- dashboard-ignores segment: complaints are not split by RFM segment
select
    month_start_date,
    complaint_category,
    severity,
    complaint_count,
    breached_count,
    breach_rate,
    resolution_breach_rate,
    follow_up_breach_rate,
    escalated_count,
    compensation_amount
from marts.mart_complaint_sla
order by month_start_date, complaint_category, severity
