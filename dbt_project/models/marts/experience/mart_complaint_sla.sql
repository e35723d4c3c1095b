{#-
    Complaint service levels per month, category and severity: one row per
    (month_start_date, complaint_category, severity). Rates divide breaches by the
    complaints the rule applies to whose outcome is known (met or breached; pending
    deadlines are left out of the denominator). Follow-up satisfaction (回访满意度):
    scores given at the follow-up visit, satisfied (4-5) and their share
    (macro follow_up_satisfaction_measures).
-#}

with

complaints as (

    select * from {{ ref('fct_complaints') }}

),

aggregated as (

    select
        month_start_date,
        complaint_category,
        severity,
        count(*) as complaint_count,
        sum(case when is_open then 1 else 0 end) as open_count,
        sum(case when resolved_at is not null then 1 else 0 end) as resolved_count,
        sum(case when is_escalated then 1 else 0 end) as escalated_count,
        sum(case when is_sla_breached then 1 else 0 end) as breached_count,
        sum(case when resolution_sla_status in ('met', 'breached') then 1 else 0 end)
            as resolution_sla_evaluated_count,
        sum(case when breached_resolution_sla then 1 else 0 end) as resolution_breached_count,
        sum(case when escalation_sla_status in ('met', 'breached') then 1 else 0 end)
            as escalation_sla_evaluated_count,
        sum(case when breached_escalation_sla then 1 else 0 end) as escalation_breached_count,
        sum(case when follow_up_sla_status in ('met', 'breached') then 1 else 0 end)
            as follow_up_sla_evaluated_count,
        sum(case when breached_follow_up_sla then 1 else 0 end) as follow_up_breached_count,
        {{ avg_double('resolution_minutes') }} as avg_resolution_minutes,
        {{ avg_double('first_response_minutes') }} as avg_first_response_minutes,
        sum(compensation_amount) as compensation_amount,
        sum(case when compensation_amount > 0 then 1 else 0 end) as compensated_count,
        {{ follow_up_satisfaction_measures() }}

    from complaints
    group by month_start_date, complaint_category, severity

),

final as (

    select
        {{ surrogate_key(['month_start_date', 'complaint_category', 'severity']) }}
            as complaint_sla_id,
        month_start_date,
        complaint_category,
        severity,
        cast(complaint_count as {{ dbt.type_int() }}) as complaint_count,
        cast(open_count as {{ dbt.type_int() }}) as open_count,
        cast(resolved_count as {{ dbt.type_int() }}) as resolved_count,
        cast(escalated_count as {{ dbt.type_int() }}) as escalated_count,
        cast(breached_count as {{ dbt.type_int() }}) as breached_count,
        cast(cast(breached_count as {{ double_type() }}) / complaint_count as {{ double_type() }}) as breach_rate,
        cast(resolution_breached_count as {{ dbt.type_int() }}) as resolution_breached_count,
        cast(
            cast(resolution_breached_count as {{ double_type() }}) / nullif(resolution_sla_evaluated_count, 0)
            as {{ double_type() }}
        ) as resolution_breach_rate,
        cast(escalation_breached_count as {{ dbt.type_int() }}) as escalation_breached_count,
        cast(
            cast(escalation_breached_count as {{ double_type() }}) / nullif(escalation_sla_evaluated_count, 0)
            as {{ double_type() }}
        ) as escalation_breach_rate,
        cast(follow_up_breached_count as {{ dbt.type_int() }}) as follow_up_breached_count,
        cast(
            cast(follow_up_breached_count as {{ double_type() }}) / nullif(follow_up_sla_evaluated_count, 0)
            as {{ double_type() }}
        ) as follow_up_breach_rate,
        cast(avg_first_response_minutes as {{ double_type() }}) as avg_first_response_minutes,
        cast(avg_resolution_minutes as {{ double_type() }}) as avg_resolution_minutes,
        cast(compensated_count as {{ dbt.type_int() }}) as compensated_count,
        {{ cast_amount('compensation_amount') }} as compensation_amount,
        follow_up_scored_count,
        follow_up_satisfied_count,
        avg_follow_up_satisfaction,
        follow_up_satisfied_share

    from aggregated

)

select * from final
