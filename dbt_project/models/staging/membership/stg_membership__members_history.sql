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

deduplicated as (

    -- the same version exported twice collapses to one row: the newest copy (a _v2 correction) wins
    select
        *,
        row_number() over (
            partition by member_id, updated_at
            order by {{ newest_copy_first() }}
        ) as copy_number

    from renamed

),

versions as (

    select
        *,
        cast(row_number() over (
            partition by member_id
            order by updated_at
        ) as {{ dbt.type_bigint() }}) as version_number,
        lead(updated_at) over (
            partition by member_id
            order by updated_at
        ) as next_updated_at

    from deduplicated
    where copy_number = 1

),

final as (

    select
        {{ surrogate_key(['member_id', 'updated_at']) }} as member_version_id,
        member_id,
        version_number,
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
        updated_at,
        updated_at as valid_from_at,
        next_updated_at as valid_to_at,
        next_updated_at is null as is_current_version,
        _source_file,
        _source_line,
        _loaded_at

    from versions

)

select * from final
