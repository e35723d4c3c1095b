{#-
    Lifecycle KPIs per month (snapshot on the month end; the current month on the
    as-of date): members per stage and
      - new_member_first_purchase_rate: members still `potential` at the previous
        snapshot (or registered during the month) who made a first purchase in the month;
      - new_customer_conversion_rate: members `new` at the previous snapshot who bought
        again in the month (first-time buyers turned repeat customers);
      - dormant_reactivation_rate: members `dormant` at the previous snapshot who bought
        in the month;
      - high_value_retention_rate: members in the 8-class 重要价值 (HHH) at the previous
        snapshot who bought in the month.
    Rates are NULL when their base is empty, and for the first month (no previous snapshot).
-#}
with

lifecycle as (

    select * from {{ ref('int_member__lifecycle_snapshots') }}

),

rfm as (

    select * from {{ ref('int_member__rfm_snapshots') }}

),

snapshots as (

    select * from {{ ref('int_member__snapshot_dates') }}

),

paired as (

    select
        snapshots.snapshot_month,
        snapshots.snapshot_date,
        snapshots.previous_snapshot_date,
        snapshots.is_current,
        current_stage.member_id,
        current_stage.lifecycle_stage,
        previous_stage.lifecycle_stage as previous_lifecycle_stage,
        previous_rfm.rfm_class_code as previous_rfm_class_code,
        current_stage.has_purchased_since_previous_snapshot
    from snapshots
    inner join lifecycle as current_stage
        on snapshots.snapshot_date = current_stage.snapshot_date
    left join lifecycle as previous_stage
        on snapshots.previous_snapshot_date = previous_stage.snapshot_date
        and current_stage.member_id = previous_stage.member_id
    left join rfm as previous_rfm
        on snapshots.previous_snapshot_date = previous_rfm.snapshot_date
        and current_stage.member_id = previous_rfm.member_id

),

{%- set stages = ['potential', 'new', 'active', 'declining', 'dormant', 'churned', 'reactivated'] %}

counted as (

    select
        snapshot_month,
        snapshot_date,
        previous_snapshot_date,
        is_current,
        count(*) as registered_members,
        {%- for stage in stages %}
        sum(case when lifecycle_stage = '{{ stage }}' then 1 else 0 end) as {{ stage }}_members,
        {%- endfor %}
        sum(
            case
                when previous_snapshot_date is not null
                    and coalesce(previous_lifecycle_stage, 'potential') = 'potential'
                    then 1
                else 0
            end
        ) as first_purchase_base,
        sum(
            case
                when previous_snapshot_date is not null
                    and coalesce(previous_lifecycle_stage, 'potential') = 'potential'
                    and has_purchased_since_previous_snapshot
                    then 1
                else 0
            end
        ) as first_purchases,
        sum(case when previous_lifecycle_stage = 'new' then 1 else 0 end) as new_customer_base,
        sum(
            case when previous_lifecycle_stage = 'new' and has_purchased_since_previous_snapshot then 1 else 0 end
        ) as new_customers_converted,
        sum(case when previous_lifecycle_stage = 'dormant' then 1 else 0 end) as dormant_base,
        sum(
            case when previous_lifecycle_stage = 'dormant' and has_purchased_since_previous_snapshot then 1 else 0 end
        ) as dormant_reactivated,
        sum(case when previous_rfm_class_code = 'HHH' then 1 else 0 end) as high_value_base,
        sum(
            case when previous_rfm_class_code = 'HHH' and has_purchased_since_previous_snapshot then 1 else 0 end
        ) as high_value_retained
    from paired
    group by snapshot_month, snapshot_date, previous_snapshot_date, is_current

),


final as (

    select
        snapshot_month,
        snapshot_date,
        previous_snapshot_date,
        is_current as is_current_month,
        cast(registered_members as {{ dbt.type_int() }}) as registered_members,
        {%- for stage in stages %}
        cast({{ stage }}_members as {{ dbt.type_int() }}) as {{ stage }}_members,
        {%- endfor %}
        cast(first_purchase_base as {{ dbt.type_int() }}) as first_purchase_base,
        cast(first_purchases as {{ dbt.type_int() }}) as first_purchases,
        case
            when first_purchase_base > 0
                then cast(cast(first_purchases as {{ double_type() }}) / first_purchase_base as decimal(9, 4))
        end as new_member_first_purchase_rate,
        cast(new_customer_base as {{ dbt.type_int() }}) as new_customer_base,
        cast(new_customers_converted as {{ dbt.type_int() }}) as new_customers_converted,
        case
            when new_customer_base > 0
                then cast(cast(new_customers_converted as {{ double_type() }}) / new_customer_base as decimal(9, 4))
        end as new_customer_conversion_rate,
        cast(dormant_base as {{ dbt.type_int() }}) as dormant_base,
        cast(dormant_reactivated as {{ dbt.type_int() }}) as dormant_reactivated,
        case
            when dormant_base > 0
                then cast(cast(dormant_reactivated as {{ double_type() }}) / dormant_base as decimal(9, 4))
        end as dormant_reactivation_rate,
        cast(high_value_base as {{ dbt.type_int() }}) as high_value_base,
        cast(high_value_retained as {{ dbt.type_int() }}) as high_value_retained,
        case
            when high_value_base > 0
                then cast(cast(high_value_retained as {{ double_type() }}) / high_value_base as decimal(9, 4))
        end as high_value_retention_rate
    from counted

)

select * from final
