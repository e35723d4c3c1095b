{#-
    Per run date, every pair of audiences and how many eligible members they share
    (either arm): where audiences compete for the same members under the frequency cap.
    Counts only, no member ids.
-#}

with

assignments as (

    select * from {{ source_or_empty('activation', 'assignments') }}

),

sizes as (

    select
        run_date,
        audience,
        count(*) as member_count
    from assignments
    group by run_date, audience

),

shared as (

    select
        first_audience.run_date,
        first_audience.audience,
        second_audience.audience as other_audience,
        count(*) as shared_member_count
    from assignments as first_audience
    inner join assignments as second_audience
        on first_audience.run_date = second_audience.run_date
        and first_audience.member_id = second_audience.member_id
        and first_audience.audience < second_audience.audience
    group by first_audience.run_date, first_audience.audience, second_audience.audience

),

final as (

    select
        shared.run_date,
        shared.audience,
        shared.other_audience,
        cast(shared.shared_member_count as {{ dbt.type_int() }}) as shared_member_count,
        cast(sizes.member_count as {{ dbt.type_int() }}) as audience_member_count,
        cast(other_sizes.member_count as {{ dbt.type_int() }}) as other_audience_member_count,
        cast(
            cast(shared.shared_member_count as {{ double_type() }})
            / (sizes.member_count + other_sizes.member_count - shared.shared_member_count)
            as {{ double_type() }}
        ) as jaccard_index
    from shared
    inner join sizes
        on shared.run_date = sizes.run_date and shared.audience = sizes.audience
    inner join sizes as other_sizes
        on shared.run_date = other_sizes.run_date and shared.other_audience = other_sizes.audience

)

select * from final
