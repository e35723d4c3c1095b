with

source as (

    select * from {{ source_or_empty('raw_membership', 'consents') }}

),

renamed as (

    select
        ----------  ids
        consent_event_id,
        member_id,

        ----------  attributes
        scope as consent_scope,
        cast(granted as {{ dbt.type_boolean() }}) as is_granted,
        channel as consent_channel,
        policy_version,

        ----------  timestamps: instants in raw, local wall-clock time here
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
            partition by consent_event_id
            order by {{ newest_copy_first() }}
        ) as copy_number

    from renamed

),

final as (

    select
        consent_event_id,
        member_id,
        consent_scope,
        is_granted,
        consent_channel,
        policy_version,
        event_at,
        cast(event_at as date) as business_date,
        _source_file,
        _source_line,
        _loaded_at

    from ranked
    where copy_number = 1

)

select * from final
