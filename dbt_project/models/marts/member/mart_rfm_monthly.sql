{#-
    RFM history: one row per golden member and month for members who bought in the
    RFM window ending on the month's snapshot day (the month end, or the as-of date for
    the current month). Same definitions as the current scores in mart_member_360.
-#}
with

rfm as (

    select * from {{ ref('int_member__rfm_snapshots') }}

),

snapshots as (

    select * from {{ ref('int_member__snapshot_dates') }}

),

final as (

    select
        rfm.rfm_snapshot_id,
        snapshots.snapshot_month,
        rfm.snapshot_date,
        snapshots.is_current as is_current_month,
        rfm.member_id,
        rfm.last_purchase_date,
        rfm.recency_days,
        rfm.frequency,
        rfm.monetary_amount,
        rfm.r_score,
        rfm.f_score,
        rfm.m_score,
        rfm.fm_score,
        rfm.rfm_cell,
        rfm.rfm_segment,
        rfm.is_r_high,
        rfm.is_f_high,
        rfm.is_m_high,
        rfm.rfm_class_code,
        rfm.rfm_class_label
    from rfm
    inner join snapshots
        on rfm.snapshot_date = snapshots.snapshot_date

)

select * from final
