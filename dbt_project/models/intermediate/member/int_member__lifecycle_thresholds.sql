{#-
    Lifecycle thresholds in days, from the inter-purchase-time distribution: the days
    between consecutive purchase days of the same member, over all purchases up to the
    as-of date. A member whose last purchase is
      - at most `active_within_days` ago (percentile var `lifecycle_active_percentile`,
        default 0.75) is active (or new / reactivated),
      - up to `dormant_after_days` (var `lifecycle_dormant_percentile`, default 0.90)
        declining, up to `churned_after_days` (var `lifecycle_churned_percentile`,
        default 0.98) dormant, beyond it churned.
    Fixed days override a percentile (vars `lifecycle_active_days`,
    `lifecycle_dormant_days`, `lifecycle_churned_days`); without any repeat purchase
    yet the fallbacks are 30 / 90 / 180 days. Thresholds never decrease down the list.
-#}
with

activity as (

    select * from {{ ref('int_member__daily_activity') }}

),

as_of as (

    select * from {{ ref('int_member__as_of_date') }}

),

gaps as (

    select activity.days_since_previous_purchase as gap_days
    from activity
    cross join as_of
    where activity.is_purchase_day
        and activity.days_since_previous_purchase is not null
        and activity.business_date <= as_of.as_of_date

),

percentiles as (

    select
        count(*) as gap_count,
        {{ percentile_cont('gap_days', var('lifecycle_active_percentile')) }} as active_percentile_days,
        {{ percentile_cont('gap_days', var('lifecycle_dormant_percentile')) }} as dormant_percentile_days,
        {{ percentile_cont('gap_days', var('lifecycle_churned_percentile')) }} as churned_percentile_days
    from gaps

),

chosen as (

    select
        {%- for stage, fallback in [('active', 30), ('dormant', 90), ('churned', 180)] %}
        {%- if var('lifecycle_' ~ stage ~ '_days') is not none %}
        {{ var('lifecycle_' ~ stage ~ '_days') }} as {{ stage }}_days,
        {%- else %}
        coalesce(
            cast(ceiling({{ stage }}_percentile_days) as {{ dbt.type_int() }}), {{ fallback }}
        ) as {{ stage }}_days,
        {%- endif %}
        {%- endfor %}
        gap_count
    from percentiles

),

final as (

    select
        cast(gap_count as {{ dbt.type_int() }}) as inter_purchase_gap_count,
        cast(active_days as {{ dbt.type_int() }}) as active_within_days,
        cast(
            case when dormant_days > active_days then dormant_days else active_days + 1 end as {{ dbt.type_int() }}
        ) as dormant_after_days,
        cast(case
            when churned_days > dormant_days and churned_days > active_days + 1 then churned_days
            when dormant_days > active_days then dormant_days + 1
            else active_days + 2
        end as {{ dbt.type_int() }}) as churned_after_days
    from chosen

)

select * from final
