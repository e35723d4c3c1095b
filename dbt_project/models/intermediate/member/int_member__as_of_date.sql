{#-
    The one reference day of every member mart: var `as_of_date` (YYYY-MM-DD) when set,
    else the latest POS business day in the data. Never current_date: a rebuild of the
    same data gives the same numbers.
-#}
with

-- unused when var as_of_date is set, and kept so that the lineage is the same either way
transactions as (  -- noqa: ST03

    select * from {{ ref('msk_pos__transactions') }}

),

final as (

    {%- if var('as_of_date') %}
    -- one row whatever the data holds: the var is the answer
    select cast('{{ var("as_of_date") }}' as date) as as_of_date
    {%- else %}
    select cast(max(business_date) as date) as as_of_date
    from transactions
    {%- endif %}

)

select * from final
