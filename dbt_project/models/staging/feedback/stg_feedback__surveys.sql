with

source as (

    select * from {{ source_or_empty('raw_feedback', 'surveys') }}

),

renamed as (

    select
        ----------  ids
        response_id,
        member_id,
        store_id,

        ----------  answers
        channel as survey_channel,
        cast(nps_score as {{ dbt.type_int() }}) as nps_score,
        cast(csat_score as {{ dbt.type_int() }}) as csat_score,
        comment as comment_text,

        ----------  timestamps: the survey SaaS sends UTC, staging speaks local time
        {{ to_local_timestamp('submitted_at') }} as submitted_at,

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
            partition by response_id
            order by {{ newest_copy_first() }}
        ) as copy_number

    from renamed

),

final as (

    select
        response_id,
        member_id,
        store_id,
        survey_channel,
        nps_score,
        case
            when nps_score >= 9 then 'promoter'
            when nps_score >= 7 then 'passive'
            when nps_score >= 0 then 'detractor'
        end as nps_category,
        csat_score,
        csat_score >= 4 as is_satisfied,
        comment_text,
        submitted_at,
        cast(submitted_at as date) as business_date,
        _source_file,
        _source_line,
        _loaded_at

    from ranked
    where copy_number = 1

)

select * from final
