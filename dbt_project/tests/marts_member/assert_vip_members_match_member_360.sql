-- mart_vip_members lists exactly the members flagged VIP in mart_member_360.
select coalesce(vip.member_id, member_360.member_id) as member_id
from {{ ref('mart_vip_members') }} as vip
full outer join (select * from {{ ref('mart_member_360') }} where is_vip) as member_360
    on vip.member_id = member_360.member_id
where vip.member_id is null or member_360.member_id is null
