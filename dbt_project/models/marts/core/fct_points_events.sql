{{
    config(
        materialized=incremental_materialization(),
        incremental_strategy='delete+insert',
        unique_key='ledger_entry_id',
        on_schema_change='append_new_columns',
    )
}}
{#-
    One row per loyalty-points ledger movement (earn, redeem, expire, transfer, adjust)
    with its earn source and festival multiplier, the golden member and the CNY value at var `points_per_cny`. Incremental on
    `_loaded_at` with a lookback.
-#}
with

ledger as (

    select * from {{ ref('msk_membership__points_ledger') }}

),

identity_map as (

    select * from {{ ref('int_member__identity_map') }}
    where identifier_type = 'member_id'

),

final as (

    select
        ledger.ledger_entry_id,
        coalesce(identity_map.golden_member_id, ledger.member_id) as member_id,
        ledger.member_id as source_member_id,
        ledger.transaction_id,
        ledger.family_group_id,
        ledger.entry_type,
        ledger.earn_source,
        ledger.points,
        case when ledger.points > 0 then ledger.points else 0 end as points_in,
        case when ledger.points < 0 then -ledger.points else 0 end as points_out,
        ledger.multiplier,
        cast(ledger.bonus_points as {{ dbt.type_int() }}) as bonus_points,
        {{ cast_amount('ledger.points * 1.0 / ' ~ var('points_per_cny')) }} as points_value_amount,
        ledger.entry_at,
        ledger.business_date,
        ledger.expires_on,
        ledger._loaded_at
    from ledger
    left join identity_map
        on ledger.member_id = identity_map.identifier_value
    {%- if is_incremental() %}
    where {{ incremental_lookback('ledger._loaded_at', this_column='_loaded_at') }}
    {%- endif %}

)

select * from final
