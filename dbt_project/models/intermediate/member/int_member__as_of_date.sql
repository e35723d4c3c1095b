{#-
    The one reference day of every member mart: var `as_of_date` (YYYY-MM-DD) when set,
    else the latest POS business day in the data. Never current_date: a rebuild of the
    same data gives the same numbers.
-#}
with

transactions as (

    select * from {{ ref('msk_pos__transactions') }}

),

final as (

    select
        {%- if var('as_of_date', none) %}
        -- one row whatever the data holds: the var is the answer
        cast('{{ var("as_of_date") }}' as date) as as_of_date
        {%- else %}
        cast(max(business_date) as date) as as_of_date
    from transactions
        {%- endif %}

)

select * from final
