{#-
    Golden members with the day they (first) registered: the population of the
    lifecycle. Member records merged by identity resolution count once.
-#}
with

members as (

    select * from {{ ref('msk_membership__members') }}

),

identity_map as (

    select * from {{ ref('int_member__identity_map') }}
    where identifier_type = 'member_id'

),

final as (

    select
        identity_map.golden_member_id as member_id,
        min(members.registration_date) as registration_date
    from members
    inner join identity_map
        on members.member_id = identity_map.identifier_value
    group by identity_map.golden_member_id

)

select * from final
