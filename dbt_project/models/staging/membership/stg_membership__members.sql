-- The current version of each member. "Which version is current" is decided once, in
-- stg_membership__members_history (versions in updated_at order, re-exports collapsed).

with

history as (

    select * from {{ ref('stg_membership__members_history') }}

),

final as (

    select
        member_id,
        card_no,
        family_group_id,
        referrer_member_id,
        full_name,
        mobile,
        email,
        birth_date,
        gender,
        country_code,
        registration_channel,
        tier,
        tier_rank,
        member_status,
        is_active,
        registered_at,
        cast(registered_at as date) as registration_date,
        updated_at,
        _source_file,
        _source_line,
        _loaded_at

    from history
    where is_current_version

)

select * from final
