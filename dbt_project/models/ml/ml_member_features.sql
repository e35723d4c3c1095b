{{
    config(
        schema='ml_features',
        materialized='table',
        tags=['ml'],
    )
}}
{#-
    Point-in-time member features for the ML jobs (ml/): one row per member and cutoff.

    Cutoffs: t0 = var `ml_cutoff_date` (YYYY-MM-DD) or the latest POS business date, and
    t0 - k * H for k = 1 .. var `ml_feature_snapshots` - 1, H = var `ml_horizon_days`
    (default 60). A cutoff is the END of its day: every feature of cutoff c uses only
    events with business_date <= c (never later data), so features of a past cutoff do
    not change when later data arrives or t0 moves (tests/integration/test_ml_pipeline.py).
    Churn labels (purchase in (c, c + H]) are computed by ml/, not here.

    Reads marts only (fct_transactions, fct_sales_lines, fct_complaints,
    fct_survey_responses, dim_member) and the golden-member identity map.
-#}
{%- set horizon = var('ml_horizon_days') | int %}
{%- set snapshots = var('ml_feature_snapshots') | int %}
with

transactions as (

    select * from {{ ref('fct_transactions') }}
    where member_id is not null

),

sales_lines as (

    select * from {{ ref('fct_sales_lines') }}
    where member_id is not null and not is_refund

),

members as (

    select * from {{ ref('dim_member') }}

),

identity_map as (

    select * from {{ ref('int_member__identity_map') }}
    where identifier_type = 'member_id'

),

complaints as (

    select
        identity_map.golden_member_id as member_id,
        fct_complaints.business_date,
        fct_complaints.is_major
    from {{ ref('fct_complaints') }} as fct_complaints
    inner join identity_map
        on fct_complaints.member_id = identity_map.identifier_value

),

surveys as (

    select
        identity_map.golden_member_id as member_id,
        fct_survey_responses.business_date,
        fct_survey_responses.submitted_at,
        fct_survey_responses.response_id,
        fct_survey_responses.nps_score
    from {{ ref('fct_survey_responses') }} as fct_survey_responses
    inner join identity_map
        on fct_survey_responses.member_id = identity_map.identifier_value
    where fct_survey_responses.nps_score is not null

),

latest_date as (

    {%- if var('ml_cutoff_date') %}
    select cast('{{ var("ml_cutoff_date") }}' as date) as t0
    {%- else %}
    select cast(max(business_date) as date) as t0
    from transactions
    {%- endif %}

),

cutoffs as (

    {%- for k in range(snapshots) %}
    select
        {{ k }} as snapshot_index,
        cast({{ dbt.dateadd('day', -k * horizon, 'latest_date.t0') }} as date) as cutoff_date
    from latest_date
    where latest_date.t0 is not null
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}

),

base as (

    select
        members.member_id,
        cutoffs.cutoff_date,
        cutoffs.snapshot_index,
        members.registration_date
    from members
    cross join cutoffs
    where members.registration_date <= cutoffs.cutoff_date

),

tx as (

    select
        cutoffs.cutoff_date,
        transactions.member_id,
        transactions.business_date,
        transactions.is_refund,
        transactions.has_coupon,
        transactions.store_id,
        transactions.net_revenue_amount,
        transactions.gross_amount,
        transactions.discount_amount,
        {{ dbt.datediff('transactions.business_date', 'cutoffs.cutoff_date', 'day') }} as age_days  -- noqa: LT05
    from transactions
    inner join cutoffs
        on transactions.business_date <= cutoffs.cutoff_date

),

tx_agg as (

    select
        cutoff_date,
        member_id,
        min(case when not is_refund then business_date end) as first_purchase_date,
        max(case when not is_refund then business_date end) as last_purchase_date,
        count(distinct case when not is_refund then business_date end) as purchase_days_total,
        sum(case when not is_refund then 1 else 0 end) as orders_total,
        {%- for days in [30, 90, 365] %}
        sum(case when not is_refund and age_days < {{ days }} then 1 else 0 end) as orders_{{ days }}d,
        sum(case when age_days < {{ days }} then net_revenue_amount else 0 end) as net_spend_{{ days }}d,
        {%- endfor %}
        sum(net_revenue_amount) as net_spend_total,
        sum(case when is_refund and age_days < 365 then 1 else 0 end) as refunds_365d,
        count(distinct case when not is_refund and age_days < 365 then store_id end) as distinct_stores_365d,
        sum(case when not is_refund and age_days < 365 then discount_amount else 0 end) as discount_365d,
        sum(case when not is_refund and age_days < 365 then gross_amount else 0 end) as gross_365d,
        sum(case when not is_refund and age_days < 365 and has_coupon then 1 else 0 end) as coupon_orders_365d
    from tx
    group by cutoff_date, member_id

),

purchase_days as (

    select distinct
        cutoff_date,
        member_id,
        business_date
    from tx
    where not is_refund

),

gaps as (

    select
        cutoff_date,
        member_id,
        {{ dbt.datediff(
            'lag(business_date) over (partition by cutoff_date, member_id order by business_date)',
            'business_date', 'day') }} as gap_days
    from purchase_days

),

gap_agg as (

    select
        cutoff_date,
        member_id,
        {{ avg_double('gap_days') }} as mean_interpurchase_days,
        stddev_samp(cast(gap_days as {{ double_type() }})) as std_interpurchase_days
    from gaps
    where gap_days is not null
    group by cutoff_date, member_id

),

category_spend as (

    select
        cutoffs.cutoff_date,
        sales_lines.member_id,
        sales_lines.product_category,
        sum(sales_lines.net_revenue_amount) as spend
    from sales_lines
    inner join cutoffs
        on sales_lines.business_date <= cutoffs.cutoff_date
        and sales_lines.business_date > {{ dbt.dateadd('day', -365, 'cutoffs.cutoff_date') }}
    group by cutoffs.cutoff_date, sales_lines.member_id, sales_lines.product_category

),

category_agg as (

    select
        cutoff_date,
        member_id,
        count(distinct product_category) as distinct_categories_365d,
        max(spend) / nullif(sum(spend), 0) as top_category_share_365d
    from category_spend
    group by cutoff_date, member_id

),

complaint_agg as (

    select
        cutoffs.cutoff_date,
        complaints.member_id,
        sum(
            case when complaints.business_date > {{ dbt.dateadd('day', -365, 'cutoffs.cutoff_date') }} then 1 else 0 end
        ) as complaints_365d,
        sum(
            case
                when complaints.business_date > {{ dbt.dateadd('day', -365, 'cutoffs.cutoff_date') }}
                    and complaints.is_major
                    then 1
                else 0
            end
        ) as major_complaints_365d,
        max(complaints.business_date) as last_complaint_date
    from complaints
    inner join cutoffs
        on complaints.business_date <= cutoffs.cutoff_date
    group by cutoffs.cutoff_date, complaints.member_id

),

nps_ranked as (

    select
        cutoffs.cutoff_date,
        surveys.member_id,
        surveys.nps_score,
        row_number() over (
            partition by cutoffs.cutoff_date, surveys.member_id
            order by surveys.submitted_at desc, surveys.response_id desc
        ) as recency_rank
    from surveys
    inner join cutoffs
        on surveys.business_date <= cutoffs.cutoff_date

),

nps_agg as (

    select
        cutoff_date,
        member_id,
        max(case when recency_rank = 1 then nps_score end) as last_nps_score,
        count(*) as nps_responses
    from nps_ranked
    group by cutoff_date, member_id

),

digital_agg as (

    -- online engagement in the 90 days up to the cutoff; identified events only (an anonymous
    -- event is attributed once its device logs in, possibly after the cutoff)
    select
        cutoffs.cutoff_date,
        digital_events.member_id,
        sum(case when digital_events.event_type = 'check_in' then 1 else 0 end) as check_ins_90d,
        sum(case when digital_events.event_type = 'coupon_claim' then 1 else 0 end) as coupon_claims_90d,
        sum(case when digital_events.event_type = 'activity_signup' then 1 else 0 end) as activity_signups_90d
    from {{ ref('fct_digital_events') }} as digital_events
    inner join cutoffs
        on digital_events.business_date <= cutoffs.cutoff_date
        and digital_events.business_date > {{ dbt.dateadd('day', -90, 'cutoffs.cutoff_date') }}
    where digital_events.member_id is not null and not digital_events.is_anonymous_event
    group by cutoffs.cutoff_date, digital_events.member_id

),

final as (

    select
        base.member_id,
        base.cutoff_date,
        base.snapshot_index,
        {{ horizon }} as horizon_days,
        tx_agg.first_purchase_date,
        tx_agg.last_purchase_date,
        coalesce(tx_agg.orders_365d, 0) > 0 as is_active,

        ----------  features (numeric; NULL = not applicable, e.g. no purchase yet)
        cast({{ dbt.datediff('base.registration_date', 'base.cutoff_date', 'day') }} as double) as tenure_days,  -- noqa: LT05
        cast({{ dbt.datediff('tx_agg.last_purchase_date', 'base.cutoff_date', 'day') }} as double) as recency_days,  -- noqa: LT05
        cast(
            {{ dbt.datediff('tx_agg.first_purchase_date', 'base.cutoff_date', 'day') }} as double  -- noqa: LT05
        ) as days_since_first_purchase,
        cast(coalesce(tx_agg.purchase_days_total, 0) as double) as purchase_days_total,
        cast(coalesce(tx_agg.orders_total, 0) as double) as orders_total,
        {%- for days in [30, 90, 365] %}
        cast(coalesce(tx_agg.orders_{{ days }}d, 0) as double) as orders_{{ days }}d,
        cast(coalesce(tx_agg.net_spend_{{ days }}d, 0) as double) as net_spend_{{ days }}d,
        {%- endfor %}
        cast(coalesce(tx_agg.net_spend_total, 0) as double) as net_spend_total,
        cast(tx_agg.net_spend_365d / nullif(tx_agg.orders_365d, 0) as double) as avg_order_value_365d,
        cast(gap_agg.mean_interpurchase_days as double) as mean_interpurchase_days,
        cast(gap_agg.std_interpurchase_days as double) as std_interpurchase_days,
        cast(
            {{ dbt.datediff('tx_agg.last_purchase_date', 'base.cutoff_date', 'day') }}
            / nullif(gap_agg.mean_interpurchase_days, 0) as double
        ) as recency_over_mean_gap,
        cast(coalesce(tx_agg.refunds_365d, 0) as double) as refunds_365d,
        cast(coalesce(tx_agg.distinct_stores_365d, 0) as double) as distinct_stores_365d,
        cast(coalesce(category_agg.distinct_categories_365d, 0) as double) as distinct_categories_365d,
        cast(category_agg.top_category_share_365d as double) as top_category_share_365d,
        cast(tx_agg.discount_365d / nullif(tx_agg.gross_365d, 0) as double) as discount_share_365d,
        cast(tx_agg.coupon_orders_365d as double) / nullif(tx_agg.orders_365d, 0) as coupon_order_share_365d,
        cast(coalesce(complaint_agg.complaints_365d, 0) as double) as complaints_365d,
        cast(coalesce(complaint_agg.major_complaints_365d, 0) as double) as major_complaints_365d,
        cast(
            {{ dbt.datediff('complaint_agg.last_complaint_date', 'base.cutoff_date', 'day') }} as double  -- noqa: LT05
        ) as days_since_last_complaint,
        cast(nps_agg.last_nps_score as double) as last_nps_score,
        cast(coalesce(nps_agg.nps_responses, 0) as double) as nps_responses,
        cast(coalesce(digital_agg.check_ins_90d, 0) as double) as check_ins_90d,
        cast(coalesce(digital_agg.coupon_claims_90d, 0) as double) as coupon_claims_90d,
        cast(coalesce(digital_agg.activity_signups_90d, 0) as double) as activity_signups_90d

    from base
    left join tx_agg
        on base.member_id = tx_agg.member_id and base.cutoff_date = tx_agg.cutoff_date
    left join gap_agg
        on base.member_id = gap_agg.member_id and base.cutoff_date = gap_agg.cutoff_date
    left join category_agg
        on base.member_id = category_agg.member_id and base.cutoff_date = category_agg.cutoff_date
    left join complaint_agg
        on base.member_id = complaint_agg.member_id and base.cutoff_date = complaint_agg.cutoff_date
    left join nps_agg
        on base.member_id = nps_agg.member_id and base.cutoff_date = nps_agg.cutoff_date
    left join digital_agg
        on base.member_id = digital_agg.member_id and base.cutoff_date = digital_agg.cutoff_date

)

select * from final
