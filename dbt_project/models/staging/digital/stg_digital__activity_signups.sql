with

source as (

    select * from {{ source_or_empty('raw_digital', 'activity_signups') }}

),

renamed as (

    select
        ----------  ids
        signup_id,
        activity_id,
        member_id,
        zone_id,

        ----------  attributes
        activity_type,
        cast(activity_date as date) as activity_date,
        channel as signup_channel,
        status as signup_status,

        ----------  timestamps: instants in raw, local wall-clock time here
        {{ to_local_timestamp('signed_up_at') }} as signed_up_at,
        {{ to_local_timestamp('checked_in_at') }} as checked_in_at,
        {{ to_local_timestamp('updated_at') }} as updated_at,

        ----------  lineage
        _source_file,
        _source_line,
        _loaded_at

    from source

),

ranked as (

    -- exported at sign-up and again after the activity: the latest updated_at wins
    select
        *,
        row_number() over (
            partition by signup_id
            order by updated_at desc, {{ newest_copy_first() }}
        ) as recency_rank

    from renamed

),

final as (

    select
        signup_id,
        activity_id,
        activity_type,
        activity_date,
        zone_id,
        member_id,
        signup_channel,
        signup_status,
        signup_status = 'attended' as is_attended,
        signed_up_at,
        cast(signed_up_at as date) as business_date,
        checked_in_at,
        updated_at,
        _source_file,
        _source_line,
        _loaded_at

    from ranked
    where recency_rank = 1

)

select * from final
