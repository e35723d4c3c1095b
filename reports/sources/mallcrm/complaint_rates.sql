-- Complaint rate (投诉率) per store, month and complaint category: complaints opened per 1,000 sale
-- receipts, with the follow-up satisfaction of those complaints.
-- dashboard-filters: date=month_start_date, store=store_id
-- dashboard-ignores segment: a store's receipts and complaints are not split by member segment
select
    rates.month_start_date,
    rates.store_id,
    stores.store_name,
    rates.store_category,
    rates.complaint_category,
    rates.sale_receipt_count,
    rates.complaint_count,
    rates.complaints_per_1000_receipts,
    rates.follow_up_scored_count,
    rates.follow_up_satisfied_count
from marts.mart_complaint_rates_monthly as rates
left join marts.dim_store as stores on rates.store_id = stores.store_id
order by rates.month_start_date, rates.store_id, rates.complaint_category
