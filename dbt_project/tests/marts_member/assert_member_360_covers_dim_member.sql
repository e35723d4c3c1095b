-- mart_member_360 has exactly one row per golden member of dim_member registered by
-- the as-of date.
with

as_of as (

    select * from {{ ref('int_member__as_of_date') }}

),

members as (

    select dim_member.member_id
    from {{ ref('dim_member') }} as dim_member
    cross join as_of
    where dim_member.registration_date <= as_of.as_of_date

)

select members.member_id, mart_member_360.member_id as member_360_id
from members
full outer join {{ ref('mart_member_360') }} as mart_member_360
    on members.member_id = mart_member_360.member_id
where members.member_id is null or mart_member_360.member_id is null
