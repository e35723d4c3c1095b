{#-
    One row per audience run: how many members met the definition, how many each gate
    excluded, how many were contacted and held out, and - once the marketing system's
    exports report the campaign back - the measured conversion uplift with its 95%
    interval, significance and sample-ratio check (mart_campaign_roi, treatment row).
-#}

with

runs as (

    select * from {{ source_or_empty('activation', 'runs') }}

),

gate_results as (

    select * from {{ source_or_empty('activation', 'gate_results') }}

),

campaign_roi as (

    select * from {{ ref('mart_campaign_roi') }}
    where is_treatment

),

gates as (

    select
        run_id,
        sum(case when gate = 'consent' then excluded else 0 end) as excluded_consent,
        sum(case when gate = 'minor' then excluded else 0 end) as excluded_minor,
        sum(case when gate = 'erased' then excluded else 0 end) as excluded_erased,
        sum(case when gate = 'open_complaint' then excluded else 0 end) as excluded_open_complaint,
        sum(case when gate = 'frequency_cap' then excluded else 0 end) as excluded_frequency_cap,
        sum(coalesce(violations, 0)) as check_violations
    from gate_results
    group by run_id

),

final as (

    select
        runs.run_id,
        runs.audience,
        runs.label as audience_label,
        runs.channel,
        runs.purpose,
        runs.run_date,
        runs.campaign_id,
        runs.definition_version,
        runs.status,
        cast(runs.holdout_share as {{ double_type() }}) as holdout_share,
        cast(runs.candidates as {{ dbt.type_int() }}) as candidate_count,
        cast(runs.eligible as {{ dbt.type_int() }}) as eligible_count,
        cast(runs.treatment as {{ dbt.type_int() }}) as treatment_count,
        cast(runs.control as {{ dbt.type_int() }}) as control_count,
        cast(coalesce(gates.excluded_consent, 0) as {{ dbt.type_int() }}) as excluded_consent_count,
        cast(coalesce(gates.excluded_minor, 0) as {{ dbt.type_int() }}) as excluded_minor_count,
        cast(coalesce(gates.excluded_erased, 0) as {{ dbt.type_int() }}) as excluded_erased_count,
        cast(coalesce(gates.excluded_open_complaint, 0) as {{ dbt.type_int() }}) as excluded_open_complaint_count,
        cast(coalesce(gates.excluded_frequency_cap, 0) as {{ dbt.type_int() }}) as excluded_frequency_cap_count,
        cast(coalesce(gates.check_violations, 0) as {{ dbt.type_int() }}) as check_violation_count,
        campaign_roi.campaign_id is not null as is_measured,
        campaign_roi.start_date as campaign_start_date,
        campaign_roi.end_date as campaign_end_date,
        campaign_roi.conversion_rate as treatment_conversion_rate,
        campaign_roi.control_conversion_rate,
        campaign_roi.conversion_uplift,
        campaign_roi.conversion_uplift_ci_low,
        campaign_roi.conversion_uplift_ci_high,
        campaign_roi.conversion_p_value,
        campaign_roi.is_conversion_significant,
        campaign_roi.incremental_revenue_amount,
        campaign_roi.has_sample_ratio_mismatch
    from runs
    left join gates
        on runs.run_id = gates.run_id
    left join campaign_roi
        on runs.campaign_id = campaign_roi.campaign_id

)

select * from final
