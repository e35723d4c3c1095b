{#-
    One golden record per person. Member records sharing a card-number token or a
    mobile token are merged (int_member__identity_map); the surviving profile is the
    cluster's active record updated last. Only masked personal data is read.
-#}
with

members as (

    select * from {{ ref('msk_membership__members') }}

),

identity_map as (

    select * from {{ ref('int_member__identity_map') }}
    where identifier_type = 'member_id'

),

clustered as (

    select
        members.*,
        identity_map.golden_member_id,
        row_number() over (
            partition by identity_map.golden_member_id
            order by
                case when members.is_active then 0 else 1 end,
                members.updated_at desc,
                members.member_id asc
        ) as survivor_rank,
        count(*) over (partition by identity_map.golden_member_id) as merged_record_count,
        min(members.registered_at) over (partition by identity_map.golden_member_id) as first_registered_at,
        max(members.tier_rank) over (partition by identity_map.golden_member_id) as best_tier_rank
    from members
    inner join identity_map
        on members.member_id = identity_map.identifier_value

),

final as (

    select
        golden_member_id as member_id,
        member_id as survivor_member_id,
        cast(merged_record_count as {{ dbt.type_int() }}) as merged_record_count,
        card_no_token,
        mobile_token,
        email_token,
        full_name_masked,
        mobile_masked,
        email_masked,
        birth_month,
        age_band,
        is_minor,
        gender,
        country_code,
        registration_channel,
        first_registered_at as registered_at,
        cast(first_registered_at as date) as registration_date,
        tier,
        tier_rank,
        family_group_id,
        referrer_member_id,
        member_status,
        is_active,
        updated_at
    from clustered
    where survivor_rank = 1

)

select * from final
