{#-
    Per run date and channel: the active adult members and the share holding the
    channel's consent as the consent gate saw it (activation.channel_coverage).
-#}

with

coverage as (

    select * from {{ source_or_empty('activation', 'channel_coverage') }}

),

final as (

    select
        run_date,
        channel,
        consent_scopes,
        cast(active_adult_members as {{ dbt.type_int() }}) as active_adult_member_count,
        cast(consenting_members as {{ dbt.type_int() }}) as consenting_member_count,
        cast(
            cast(consenting_members as {{ double_type() }}) / nullif(active_adult_members, 0)
            as {{ double_type() }}
        ) as consent_coverage_rate
    from coverage

)

select * from final
