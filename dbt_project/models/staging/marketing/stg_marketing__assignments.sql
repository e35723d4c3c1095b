with

source as (

    select * from {{ source_or_empty('raw_marketing', 'assignments') }}

),

renamed as (

    select
        ----------  ids
        campaign_id,
        member_id,

        ----------  attributes
        arm,

        ----------  timestamps: instants in raw, local wall-clock time here
        {{ to_local_timestamp('assigned_at') }} as assigned_at,

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
            partition by campaign_id, member_id
            order by {{ newest_copy_first() }}
        ) as copy_number

    from renamed

),

final as (

    select
        {{ surrogate_key(['campaign_id', 'member_id']) }} as assignment_id,
        campaign_id,
        member_id,
        arm,
        arm <> 'control' as is_treatment,
        assigned_at,
        _source_file,
        _source_line,
        _loaded_at

    from ranked
    where copy_number = 1

)

select * from final
