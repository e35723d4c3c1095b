-- Members per lifecycle stage and month (生命周期阶段分布), long format for a stacked chart.
-- dashboard-filters: date=snapshot_month
select snapshot_month, 'potential' as lifecycle_stage, potential_members as member_count
from marts.mart_lifecycle_kpis_monthly
union all
select snapshot_month, 'new', new_members from marts.mart_lifecycle_kpis_monthly
union all
select snapshot_month, 'active', active_members from marts.mart_lifecycle_kpis_monthly
union all
select snapshot_month, 'declining', declining_members from marts.mart_lifecycle_kpis_monthly
union all
select snapshot_month, 'dormant', dormant_members from marts.mart_lifecycle_kpis_monthly
union all
select snapshot_month, 'churned', churned_members from marts.mart_lifecycle_kpis_monthly
order by snapshot_month, lifecycle_stage
