{#- The complaints that breached a service level (see fct_complaints); one row per complaint. -#}

with

complaints as (

    select * from {{ ref('fct_complaints') }}

),

final as (

    select
        complaint_id,
        opened_at,
        month_start_date,
        store_id,
        member_id,
        complaint_category,
        severity,
        complaint_channel,
        complaint_status,
        sla_breach_reason,
        breached_resolution_sla,
        breached_escalation_sla,
        breached_follow_up_sla,
        is_escalated,
        resolution_due_at,
        resolved_at,
        resolution_minutes,
        follow_up_due_at,
        follow_up_at,
        compensation_amount,
        sla_evaluated_at

    from complaints
    where is_sla_breached

)

select * from final
