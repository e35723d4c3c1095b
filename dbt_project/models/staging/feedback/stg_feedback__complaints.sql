with

source as (

    select * from {{ source_or_empty('raw_feedback', 'complaints') }}

),

renamed as (

    select
        ----------  ids
        complaint_id,
        member_id,
        store_id,

        ----------  attributes
        category as complaint_category,
        severity,
        channel as complaint_channel,
        status as complaint_status,
        cast(escalated as {{ dbt.type_boolean() }}) as is_escalated,
        {{ cast_amount('compensation_amount') }} as compensation_amount,
        description as complaint_text,
        cast(follow_up_satisfaction as {{ dbt.type_int() }}) as follow_up_satisfaction,

        ----------  timestamps: instants in raw, local wall-clock time here
        {{ to_local_timestamp('opened_at') }} as opened_at,
        {{ to_local_timestamp('first_response_at') }} as first_response_at,
        {{ to_local_timestamp('resolved_at') }} as resolved_at,
        {{ to_local_timestamp('follow_up_at') }} as follow_up_at,
        {{ to_local_timestamp('updated_at') }} as updated_at,

        ----------  lineage
        _source_file,
        _source_line,
        _loaded_at

    from source

),

ranked as (

    -- exported when opened and again when closed: the latest updated_at wins
    select
        *,
        row_number() over (
            partition by complaint_id
            order by updated_at desc, {{ newest_copy_first() }}
        ) as recency_rank

    from renamed

),

final as (

    select
        complaint_id,
        member_id,
        store_id,
        complaint_category,
        severity,
        severity = 'major' as is_major,
        complaint_channel,
        complaint_status,
        complaint_status = 'open' as is_open,
        is_escalated,
        compensation_amount,
        complaint_text,
        opened_at,
        cast(opened_at as date) as business_date,
        first_response_at,
        resolved_at,
        follow_up_at,
        follow_up_satisfaction,
        {{ dbt.datediff('opened_at', 'first_response_at', 'minute') }} as minutes_to_first_response,  -- noqa: LT05
        {{ dbt.datediff('opened_at', 'resolved_at', 'hour') }} as hours_to_resolution,  -- noqa: LT05
        updated_at,
        _source_file,
        _source_line,
        _loaded_at

    from ranked
    where recency_rank = 1

)

select * from final
