with

source as (

    select * from {{ source_or_empty('raw_digital', 'wechat_identities') }}

),

renamed as (

    select
        ----------  ids
        openid,
        unionid,
        member_id,

        ----------  attributes
        app_type,

        ----------  timestamps: instants in raw, local wall-clock time here
        {{ to_local_timestamp('first_seen_at') }} as first_seen_at,
        {{ to_local_timestamp('updated_at') }} as updated_at,

        ----------  lineage
        _source_file,
        _source_line,
        _loaded_at

    from source

),

ranked as (

    -- exported when first seen and again when bound to a member: the latest updated_at wins
    select
        *,
        row_number() over (
            partition by openid
            order by updated_at desc, {{ newest_copy_first() }}
        ) as recency_rank

    from renamed

),

final as (

    select
        openid,
        app_type,
        unionid,
        member_id,
        member_id is not null as is_bound,
        first_seen_at,
        updated_at,
        _source_file,
        _source_line,
        _loaded_at

    from ranked
    where recency_rank = 1

)

select * from final
