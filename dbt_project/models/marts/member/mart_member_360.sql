{#-
    Member 360: one row per golden member registered by the as-of date — masked profile, tier, points, family,
    spend and visits over 30/90/365 days, favourites, RFM (quintile segment and 8-class),
    lifecycle stage, VIP, NPS, complaints, consents and the ML scores. Every window
    ends on the as-of date (int_member__as_of_date), never on current_date.
-#}
with

members as (

    select * from {{ ref('dim_member') }}

),

as_of as (

    select * from {{ ref('int_member__as_of_date') }}

),

sales_lines as (

    select * from {{ ref('fct_sales_lines') }}
    where member_id is not null

),

transactions as (

    select * from {{ ref('fct_transactions') }}
    where member_id is not null

),

rfm as (

    select rfm_snapshots.*
    from {{ ref('int_member__rfm_snapshots') }} as rfm_snapshots
    inner join as_of
        on rfm_snapshots.snapshot_date = as_of.as_of_date

),

lifecycle as (

    select lifecycle_snapshots.*
    from {{ ref('int_member__lifecycle_snapshots') }} as lifecycle_snapshots
    inner join as_of
        on lifecycle_snapshots.snapshot_date = as_of.as_of_date

),

points as (

    select * from {{ ref('int_member__points_balances') }}

),

identity_map as (

    select * from {{ ref('int_member__identity_map') }}
    where identifier_type = 'member_id'

),

surveys as (

    select * from {{ ref('msk_feedback__surveys') }}

),

complaints as (

    select * from {{ ref('msk_feedback__complaints') }}

),

consents as (

    select * from {{ ref('msk_membership__consents') }}

),

churn_scores as (

    select * from {{ source_or_empty('ml_scores', 'churn_scores') }}

),

clv_scores as (

    select * from {{ source_or_empty('ml_scores', 'clv_scores') }}

),

member_segments as (

    select * from {{ source_or_empty('ml_scores', 'member_segments') }}

),

uplift_scores as (

    select * from {{ source_or_empty('ml_scores', 'uplift_scores') }}

),

digital_events as (

    select * from {{ ref('fct_digital_events') }}
    where member_id is not null

),

spend as (

    select * from {{ ref('int_member__spend_windows') }}

),

digital_engagement as (

    -- online engagement (全渠道互动) in the 90 days up to the as-of date
    select
        digital_events.member_id,
        sum(case when digital_events.event_type = 'check_in' then 1 else 0 end) as check_ins_90d,
        sum(case when digital_events.event_type = 'coupon_claim' then 1 else 0 end) as coupon_claims_90d,
        sum(case when digital_events.event_type = 'activity_signup' then 1 else 0 end) as activity_signups_90d,
        max(digital_events.business_date) as last_digital_event_date
    from digital_events
    cross join as_of
    where digital_events.business_date <= as_of.as_of_date
        and digital_events.business_date > {{ dbt.dateadd('day', -90, 'as_of.as_of_date') }}
    group by digital_events.member_id

),

category_spend as (

    select
        sales_lines.member_id,
        sales_lines.product_category,
        row_number() over (
            partition by sales_lines.member_id
            order by sum(sales_lines.net_revenue_amount) desc, sales_lines.product_category
        ) as preference_rank
    from sales_lines
    cross join as_of
    where sales_lines.business_date <= as_of.as_of_date
        and sales_lines.business_date > {{ dbt.dateadd('day', -365, 'as_of.as_of_date') }}
        and sales_lines.product_category is not null
    group by sales_lines.member_id, sales_lines.product_category

),

store_spend as (

    select
        transactions.member_id,
        transactions.store_id,
        row_number() over (
            partition by transactions.member_id
            order by sum(transactions.net_revenue_amount) desc, transactions.store_id
        ) as preference_rank
    from transactions
    cross join as_of
    where transactions.business_date <= as_of.as_of_date
        and transactions.business_date > {{ dbt.dateadd('day', -365, 'as_of.as_of_date') }}
    group by transactions.member_id, transactions.store_id

),

nps_answers as (

    select
        identity_map.golden_member_id as member_id,
        surveys.nps_score,
        row_number() over (
            partition by identity_map.golden_member_id
            order by surveys.submitted_at desc, surveys.response_id desc
        ) as recency_rank
    from surveys
    inner join identity_map
        on surveys.member_id = identity_map.identifier_value
    cross join as_of
    where surveys.nps_score is not null
        and surveys.business_date <= as_of.as_of_date

),

nps as (

    select
        member_id,
        max(case when recency_rank = 1 then nps_score end) as last_nps_score,
        {{ avg_double('nps_score') }} as average_nps_score,
        count(*) as nps_response_count
    from nps_answers
    group by member_id

),

open_complaints as (

    select
        identity_map.golden_member_id as member_id,
        count(*) as open_complaint_count
    from complaints
    inner join identity_map
        on complaints.member_id = identity_map.identifier_value
    cross join as_of
    where complaints.business_date <= as_of.as_of_date
        and (
            (complaints.resolved_at is null and complaints.is_open)
            or cast(complaints.resolved_at as date) > as_of.as_of_date
        )
    group by identity_map.golden_member_id

),

consent_events as (

    select
        identity_map.golden_member_id as member_id,
        consents.consent_scope,
        consents.is_granted,
        row_number() over (
            partition by identity_map.golden_member_id, consents.consent_scope
            order by consents.event_at desc, consents.consent_event_id desc
        ) as recency_rank
    from consents
    inner join identity_map
        on consents.member_id = identity_map.identifier_value
    cross join as_of
    where consents.business_date <= as_of.as_of_date

),

{%- set consent_scopes = [
    'marketing_sms', 'marketing_wechat', 'marketing_email',
    'analytics', 'third_party_sharing', 'location_tracking',
] %}

current_consents as (

    select
        {%- for scope in consent_scopes %}
        max(case when consent_scope = '{{ scope }}' and is_granted then 1 else 0 end) = 1 as has_consent_{{ scope }},
        {%- endfor %}
        member_id
    from consent_events
    where recency_rank = 1
    group by member_id

),

churn as (

    select
        member_id,
        max(churn_probability) as churn_probability
    from churn_scores
    group by member_id

),

clv as (

    select
        member_id,
        max(predicted_clv) as predicted_clv
    from clv_scores
    group by member_id

),

segment as (

    select
        member_id,
        max(segment_name) as segment_name
    from member_segments
    group by member_id

),

uplift as (

    select
        member_id,
        max(uplift_score) as uplift_score
    from uplift_scores
    group by member_id

),

final as (

    select
        members.member_id,
        as_of.as_of_date,

        ----------  masked profile
        members.full_name_masked,
        members.mobile_masked,
        members.email_masked,
        members.age_band,
        members.gender,
        members.country_code,
        members.registration_channel,
        members.registration_date,
        members.member_status,
        members.merged_record_count,

        ----------  loyalty
        members.tier,
        members.tier_rank,
        members.family_group_id,
        cast(coalesce(points.points_balance, 0) as {{ dbt.type_int() }}) as points_balance,
        cast(coalesce(points.points_expiring_soon, 0) as {{ dbt.type_int() }}) as points_expiring_30d,

        ----------  spend and visits (net of refunds)
        spend.first_purchase_date,
        spend.last_purchase_date,
        cast(
            {{ dbt.datediff('spend.last_purchase_date', 'as_of.as_of_date', 'day') }} as {{ dbt.type_int() }}  -- noqa: LT05
        ) as days_since_last_purchase,
        {%- for days in [30, 90, 365] %}
        {{ cast_amount('coalesce(spend.spend_' ~ days ~ 'd, 0)') }} as spend_{{ days }}d,
        cast(coalesce(spend.visits_{{ days }}d, 0) as {{ dbt.type_int() }}) as visits_{{ days }}d,
        {%- endfor %}
        cast(coalesce(spend.orders_365d, 0) as {{ dbt.type_int() }}) as orders_365d,
        spend.average_order_value_365d,
        {{ cast_amount('coalesce(spend.lifetime_spend, 0)') }} as lifetime_spend,
        cast(coalesce(spend.lifetime_orders, 0) as {{ dbt.type_int() }}) as lifetime_orders,
        favourite_category.product_category as favourite_category,
        favourite_store.store_id as favourite_store_id,

        ----------  RFM
        rfm.recency_days as rfm_recency_days,
        rfm.frequency as rfm_frequency,
        rfm.monetary_amount as rfm_monetary_amount,
        rfm.r_score,
        rfm.f_score,
        rfm.m_score,
        rfm.rfm_cell,
        rfm.rfm_segment,
        rfm.rfm_class_code,
        rfm.rfm_class_label,

        ----------  lifecycle and value
        coalesce(lifecycle.lifecycle_stage, 'potential') as lifecycle_stage,
        {{ cast_amount('coalesce(spend.rolling_12m_spend, 0)') }} as rolling_12m_spend,
        coalesce(spend.is_vip, false) as is_vip,

        ----------  voice of the customer
        cast(nps.last_nps_score as {{ dbt.type_int() }}) as last_nps_score,
        cast(nps.average_nps_score as decimal(5, 2)) as average_nps_score,
        cast(coalesce(nps.nps_response_count, 0) as {{ dbt.type_int() }}) as nps_response_count,
        cast(coalesce(open_complaints.open_complaint_count, 0) as {{ dbt.type_int() }}) as open_complaint_count,

        ----------  online engagement (app and mini-program, 90 days)
        cast(coalesce(digital_engagement.check_ins_90d, 0) as {{ dbt.type_int() }}) as check_ins_90d,
        cast(coalesce(digital_engagement.coupon_claims_90d, 0) as {{ dbt.type_int() }}) as coupon_claims_90d,
        cast(coalesce(digital_engagement.activity_signups_90d, 0) as {{ dbt.type_int() }}) as activity_signups_90d,
        digital_engagement.last_digital_event_date,

        ----------  consents (current grant per scope; no event = not granted)
        {%- for scope in consent_scopes %}
        coalesce(current_consents.has_consent_{{ scope }}, false) as has_consent_{{ scope }},
        {%- endfor %}

        ----------  ML scores (NULL until the ML jobs have run)
        cast(churn.churn_probability as decimal(9, 6)) as churn_probability,
        {{ cast_amount('clv.predicted_clv') }} as predicted_clv,
        segment.segment_name as behaviour_segment,
        cast(uplift.uplift_score as decimal(9, 6)) as uplift_score

    from members
    cross join as_of
    left join spend
        on members.member_id = spend.member_id
    left join category_spend as favourite_category
        on members.member_id = favourite_category.member_id
        and favourite_category.preference_rank = 1
    left join store_spend as favourite_store
        on members.member_id = favourite_store.member_id
        and favourite_store.preference_rank = 1
    left join rfm
        on members.member_id = rfm.member_id
    left join lifecycle
        on members.member_id = lifecycle.member_id
    left join points
        on members.member_id = points.member_id
    left join nps
        on members.member_id = nps.member_id
    left join open_complaints
        on members.member_id = open_complaints.member_id
    left join digital_engagement
        on members.member_id = digital_engagement.member_id
    left join current_consents
        on members.member_id = current_consents.member_id
    left join churn
        on members.member_id = churn.member_id
    left join clv
        on members.member_id = clv.member_id
    left join segment
        on members.member_id = segment.member_id
    left join uplift
        on members.member_id = uplift.member_id
    where members.registration_date <= as_of.as_of_date

)

select * from final
