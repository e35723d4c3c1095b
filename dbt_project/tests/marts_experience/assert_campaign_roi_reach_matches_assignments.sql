-- Every assignment is counted once in its campaign arm's reach and conversions.
with

assignments as (

    select
        campaign_id,
        arm,
        count(*) as member_count,
        sum(case when is_converted then 1 else 0 end) as converted_count
    from {{ ref('fct_campaign_assignments') }}
    group by campaign_id, arm

),

roi as (

    select * from {{ ref('mart_campaign_roi') }}

)

select assignments.campaign_id, assignments.arm
from assignments
full outer join roi
    on assignments.campaign_id = roi.campaign_id
    and assignments.arm = roi.arm
where roi.campaign_id is null
   or assignments.campaign_id is null
   or assignments.member_count <> roi.member_count
   or assignments.converted_count <> roi.converted_count
