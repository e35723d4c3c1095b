-- The current month of mart_rfm_monthly and the RFM columns of mart_member_360 agree.
select
    coalesce(monthly.member_id, member_360.member_id) as member_id,
    monthly.rfm_segment as monthly_segment,
    member_360.rfm_segment as member_360_segment
from (select * from {{ ref('mart_rfm_monthly') }} where is_current_month) as monthly
full outer join (select * from {{ ref('mart_member_360') }} where rfm_segment is not null) as member_360
    on monthly.member_id = member_360.member_id
where monthly.member_id is null
    or member_360.member_id is null
    or monthly.rfm_segment <> member_360.rfm_segment
    or monthly.rfm_class_code <> member_360.rfm_class_code
