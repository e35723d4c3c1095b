-- The breach list, the SLA mart and the complaint fact count the same breaches.
with

fact as (

    select count(*) as breaches from {{ ref('fct_complaints') }} where is_sla_breached

),

listed as (

    select count(*) as breaches from {{ ref('mart_complaint_breaches') }}

),

summarized as (

    select coalesce(sum(breached_count), 0) as breaches from {{ ref('mart_complaint_sla') }}

)

select
    fact.breaches as fact_breaches,
    listed.breaches as listed_breaches,
    summarized.breaches as summarized_breaches
from fact
cross join listed
cross join summarized
where fact.breaches <> listed.breaches or fact.breaches <> summarized.breaches
