with

source as (

    select * from {{ source_or_empty('raw_marketing', 'coupon_events') }}

),

renamed as (

    select
        ----------  ids
        coupon_event_id,
        coupon_code,
        campaign_id,
        member_id,
        transaction_id,
        store_id,

        ----------  attributes
        event_type,

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
            partition by coupon_event_id
            order by {{ newest_copy_first() }}
        ) as copy_number

    from renamed

),

final as (

    select
        coupon_event_id,
        coupon_code,
        campaign_id,
        member_id,
        transaction_id,
        store_id,
        event_type,
        event_type = 'redeemed' as is_redemption,
        event_at,
        cast(event_at as date) as business_date,
        _source_file,
        _source_line,
        _loaded_at

    from ranked
    where copy_number = 1

)

select * from final
