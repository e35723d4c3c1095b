with

source as (

    select * from {{ source_or_empty('raw_membership', 'members') }}

),

renamed as (

    select
        ----------  ids
        member_id,
        card_no,
        family_group_id,
        referrer_member_id,

        ----------  personal data
        name as full_name,
        mobile,
        email,
        cast(birthday as date) as birth_date,

        ----------  attributes
        gender,
        country_code,
        registration_channel,
        tier,
        status as member_status,

        ----------  timestamps: instants in raw, local wall-clock time here
        {{ to_local_timestamp('registered_at') }} as registered_at,
        {{ to_local_timestamp('updated_at') }} as updated_at,

        ----------  lineage
        _source_file,
        _source_line,
        _loaded_at

    from source

),

ranked as (

    -- one row per change is exported: the latest updated_at is the current record
    select
        *,
        row_number() over (
            partition by member_id
            order by updated_at desc, _source_file desc, _source_line desc
        ) as recency_rank

    from renamed

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
        {{ tier_rank('tier') }} as tier_rank,
        member_status,
        member_status = 'active' as is_active,
        registered_at,
        cast(registered_at as date) as registration_date,
        updated_at,
        _source_file,
        _source_line,
        _loaded_at

    from ranked
    where recency_rank = 1

)

select * from final
