-- Members per lifecycle stage and month (生命周期阶段分布), long format for a stacked chart:
-- every stage of the mart, so the stages add up to the registered members.
-- dashboard-filters: date=snapshot_month
-- dashboard-ignores store: a member's lifecycle stage is mall-wide (members shop in many stores)
-- dashboard-ignores segment: the stage counts cover every member, across RFM segments
select snapshot_month, 'potential' as lifecycle_stage, potential_members as member_count, registered_members
from marts.mart_lifecycle_kpis_monthly
union all
select snapshot_month, 'new', new_members, registered_members from marts.mart_lifecycle_kpis_monthly
union all
select snapshot_month, 'active', active_members, registered_members from marts.mart_lifecycle_kpis_monthly
union all
select snapshot_month, 'reactivated', reactivated_members, registered_members from marts.mart_lifecycle_kpis_monthly
union all
select snapshot_month, 'declining', declining_members, registered_members from marts.mart_lifecycle_kpis_monthly
union all
select snapshot_month, 'dormant', dormant_members, registered_members from marts.mart_lifecycle_kpis_monthly
union all
select snapshot_month, 'churned', churned_members, registered_members from marts.mart_lifecycle_kpis_monthly
order by snapshot_month, lifecycle_stage
