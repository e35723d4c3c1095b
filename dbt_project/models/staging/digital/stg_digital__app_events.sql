with

source as (

    select * from {{ source_or_empty('raw_digital', 'app_events') }}

),

renamed as (

    select
        ----------  ids
        event_id,
        device_id,
        openid,
        member_id,
        activity_id,

        ----------  attributes
        channel as event_channel,
        event_type,
        page as page_name,

        ----------  timestamps: the analytics SDK sends UTC, staging speaks local time
        {{ to_local_timestamp('event_at') }} as event_at,

        ----------  lineage
        _source_file,
        _source_line,
        _loaded_at

    from source

),

ranked as (

    select
        *,
        row_number() over (
            partition by event_id
            order by {{ newest_copy_first() }}
        ) as copy_number

    from renamed

),

final as (

    select
        event_id,
        device_id,
        openid,
        member_id,
        member_id is null as is_anonymous,
        event_channel,
        event_type,
        page_name,
        activity_id,
        event_at,
        cast(event_at as date) as business_date,
        _source_file,
        _source_line,
        _loaded_at

    from ranked
    where copy_number = 1

)

select * from final
