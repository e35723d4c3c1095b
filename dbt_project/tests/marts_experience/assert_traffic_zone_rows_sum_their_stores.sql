-- A zone's receipts on a day are the sum of its stores' receipts.
with

conversion as (

    select * from {{ ref('mart_traffic_conversion') }}

),

stores as (

    select business_date, zone_id, sum(transaction_count) as transaction_count
    from conversion
    where aggregation_level = 'store'
    group by business_date, zone_id

),

zones as (

    select business_date, zone_id, transaction_count
    from conversion
    where aggregation_level = 'zone'

)

select zones.business_date, zones.zone_id
from zones
left join stores
    on zones.business_date = stores.business_date
    and zones.zone_id = stores.zone_id
where zones.transaction_count <> coalesce(stores.transaction_count, 0)
