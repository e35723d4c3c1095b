-- RFM segments and the Chinese 8-class labels (RFM八类客户) per monthly snapshot.
-- dashboard-filters: date=snapshot_month, segment=rfm_segment
-- dashboard-ignores store: RFM scores a member over every store
select
    snapshot_month,
    rfm_segment,
    rfm_class_label,
    count(*) as member_count,
    avg(monetary_amount) as avg_monetary_amount,
    avg(recency_days) as avg_recency_days
from marts.mart_rfm_monthly
group by snapshot_month, rfm_segment, rfm_class_label
order by snapshot_month, member_count desc
