{#-
    Revenue uplift per campaign with CUPED variance reduction (Deng, Xu, Kohavi and
    Walker, WSDM 2013). One row per campaign that has both arms. Pooled: the treatment
    arms of a multi-arm test count as one treated arm against the control (per-arm
    comparisons are in mart_campaign_arm_comparisons).

    Each member's in-window net revenue Y is adjusted with the same member's net revenue
    in the var `cuped_pre_period_days` days before the window, X (a covariate the
    campaign cannot have moved):

        theta_arm = covariance(Y, X) / variance(X)  (within each arm)
        Y_cuped   = Y - theta_arm * (X - mean(X))  (mean over both arms)

    The uplift (treatment mean - control mean) keeps its expectation; its variance
    shrinks by the share of Y's variance that X explains. theta is estimated per arm
    (Lin 2013's regression adjustment with interaction) rather than pooled: a pooled
    theta fitted mostly on the larger treatment arm raised the control arm's variance
    on the demo's campaigns (variance "reductions" down to -10%), while a per-arm theta
    is each arm's least-squares fit and never adds variance. Both estimates carry a
    Welch standard error and a 95% normal interval; variance_reduction is
    1 - variance(CUPED uplift) / variance(plain uplift).
-#}

with

outcomes as (

    select * from {{ ref('int_experience__campaign_member_outcomes') }}

),

units as (

    select
        campaign_id,
        case when arm = 'control' then 'control' else 'treatment' end as arm,
        cast(net_revenue_amount as {{ double_type() }}) as y,
        cast(pre_period_net_revenue_amount as {{ double_type() }}) as x
    from outcomes

),

campaign_covariate as (

    select
        campaign_id,
        avg(x) as x_mean,
        covar_samp(y, x) / nullif(sqrt(var_samp(x) * var_samp(y)), 0) as pre_period_correlation
    from units
    group by campaign_id

),

arm_theta as (

    select
        campaign_id,
        arm,
        coalesce(covar_samp(y, x) / nullif(var_samp(x), 0), 0) as theta
    from units
    group by campaign_id, arm

),

adjusted as (

    select
        units.campaign_id,
        units.arm,
        units.y,
        units.y - arm_theta.theta * (units.x - campaign_covariate.x_mean) as y_cuped
    from units
    inner join campaign_covariate on units.campaign_id = campaign_covariate.campaign_id
    inner join arm_theta on units.campaign_id = arm_theta.campaign_id and units.arm = arm_theta.arm

),

arms as (

    select
        campaign_id,
        arm,
        count(*) as member_count,
        avg(y) as y_mean,
        var_samp(y) as y_variance,
        avg(y_cuped) as y_cuped_mean,
        var_samp(y_cuped) as y_cuped_variance
    from adjusted
    group by campaign_id, arm

),

compared as (

    select
        treatment.campaign_id,
        treatment.member_count as treatment_member_count,
        control.member_count as control_member_count,
        treatment_theta.theta as treatment_theta,
        control_theta.theta as control_theta,
        treatment.y_mean - control.y_mean as revenue_uplift_per_member,
        treatment.y_variance / treatment.member_count
        + control.y_variance / control.member_count as uplift_variance,
        treatment.y_cuped_mean - control.y_cuped_mean as cuped_revenue_uplift_per_member,
        treatment.y_cuped_variance / treatment.member_count
        + control.y_cuped_variance / control.member_count as cuped_uplift_variance
    from arms as treatment
    inner join arms as control
        on treatment.campaign_id = control.campaign_id
        and treatment.arm = 'treatment'
        and control.arm = 'control'
    inner join arm_theta as treatment_theta
        on treatment.campaign_id = treatment_theta.campaign_id and treatment_theta.arm = 'treatment'
    inner join arm_theta as control_theta
        on treatment.campaign_id = control_theta.campaign_id and control_theta.arm = 'control'

),

final as (

    select
        compared.campaign_id,
        compared.treatment_member_count,
        compared.control_member_count,
        cast({{ var('cuped_pre_period_days') }} as {{ dbt.type_int() }}) as pre_period_days,
        compared.treatment_theta as cuped_theta_treatment,
        compared.control_theta as cuped_theta_control,
        campaign_covariate.pre_period_correlation,
        compared.revenue_uplift_per_member,
        sqrt(compared.uplift_variance) as revenue_uplift_se,
        compared.revenue_uplift_per_member - 1.96 * sqrt(compared.uplift_variance) as revenue_uplift_ci_low,
        compared.revenue_uplift_per_member + 1.96 * sqrt(compared.uplift_variance) as revenue_uplift_ci_high,
        compared.cuped_revenue_uplift_per_member,
        sqrt(compared.cuped_uplift_variance) as cuped_revenue_uplift_se,
        compared.cuped_revenue_uplift_per_member
        - 1.96 * sqrt(compared.cuped_uplift_variance) as cuped_revenue_uplift_ci_low,
        compared.cuped_revenue_uplift_per_member
        + 1.96 * sqrt(compared.cuped_uplift_variance) as cuped_revenue_uplift_ci_high,
        1 - compared.cuped_uplift_variance / nullif(compared.uplift_variance, 0) as variance_reduction

    from compared
    inner join campaign_covariate on compared.campaign_id = campaign_covariate.campaign_id

)

select * from final
