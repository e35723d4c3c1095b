with

source as (

    select * from {{ source_or_empty('raw_membership', 'points_ledger') }}

),

renamed as (

    select
        ----------  ids
        entry_id as ledger_entry_id,
        member_id,
        transaction_id,
        family_group_id,

        ----------  attributes
        entry_type,
        earn_source,
        cast(points as {{ dbt.type_int() }}) as points,
        cast(multiplier as {{ double_type() }}) as multiplier,
        cast(bonus_points as {{ dbt.type_int() }}) as bonus_points,
        cast(expires_on as date) as expires_on,

        ----------  timestamps: instants in raw, local wall-clock time here
        {{ to_local_timestamp('entry_at') }} as entry_at,

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
            partition by ledger_entry_id
            order by {{ newest_copy_first() }}
        ) as copy_number

    from renamed

),

final as (

    select
        ledger_entry_id,
        member_id,
        transaction_id,
        family_group_id,
        entry_type,
        earn_source,
        points,
        multiplier,
        bonus_points,
        {{ cast_amount('points / 100.0') }} as points_value_amount,
        entry_at,
        cast(entry_at as date) as business_date,
        expires_on,
        _source_file,
        _source_line,
        _loaded_at

    from ranked
    where copy_number = 1

)

select * from final
