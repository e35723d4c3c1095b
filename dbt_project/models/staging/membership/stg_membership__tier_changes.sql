with

source as (

    select * from {{ source_or_empty('raw_membership', 'tier_changes') }}

),

renamed as (

    select
        ----------  ids
        change_id as tier_change_id,
        member_id,

        ----------  attributes
        from_tier,
        to_tier,
        reason as change_reason,

        ----------  timestamps: instants in raw, local wall-clock time here
        {{ to_local_timestamp('changed_at') }} as changed_at,

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
            partition by tier_change_id
            order by {{ newest_copy_first() }}
        ) as copy_number

    from renamed

),

final as (

    select
        tier_change_id,
        member_id,
        from_tier,
        to_tier,
        {{ tier_rank('to_tier') }} > {{ tier_rank('from_tier') }} as is_upgrade,
        change_reason,
        changed_at,
        cast(changed_at as date) as business_date,
        _source_file,
        _source_line,
        _loaded_at

    from ranked
    where copy_number = 1

)

select * from final
