with

source as (

    select * from {{ source_or_empty('raw_marketing', 'campaigns') }}

),

renamed as (

    select
        ----------  ids
        campaign_id,

        ----------  attributes
        campaign_name,
        channel as campaign_channel,
        target_segment,
        control_share,
        cast(treatment_arms as {{ dbt.type_int() }}) as treatment_arms,

        ----------  amounts (CNY)
        {{ cast_amount('budget') }} as budget_amount,
        {{ cast_amount('cost') }} as cost_amount,
        {{ cast_amount('coupon_value') }} as coupon_value_amount,
        {{ cast_amount('min_spend') }} as min_spend_amount,

        ----------  dates
        cast(start_date as date) as start_date,
        cast(end_date as date) as end_date,

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
            partition by campaign_id
            order by {{ newest_copy_first() }}
        ) as copy_number

    from renamed

),

final as (

    select
        campaign_id,
        campaign_name,
        campaign_channel,
        target_segment,
        control_share,
        budget_amount,
        cost_amount,
        coupon_value_amount,
        min_spend_amount,
        treatment_arms,
        start_date,
        end_date,
        {{ dbt.datediff('start_date', 'end_date', 'day') }} + 1 as campaign_days,  -- noqa: LT05
        _source_file,
        _source_line,
        _loaded_at

    from ranked
    where copy_number = 1

)

select * from final
