{{ config(materialized='table', schema='marts') }}

{#- The day-grain time spine the semantic layer (MetricFlow) joins metrics to. -#}

with

days as (

    {{ dbt.date_spine('day', "cast('2023-01-01' as date)", "cast('2029-01-01' as date)") }}

),

final as (

    select cast(date_day as date) as date_day
    from days

)

select * from final
