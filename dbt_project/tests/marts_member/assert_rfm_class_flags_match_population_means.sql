-- Each 8-class flag of the current RFM snapshot agrees with the population mean it is
-- defined by (R high = fewer days than the mean recency; F, M high = above the mean).
with

rfm as (

    select * from {{ ref('mart_rfm_monthly') }}
    where is_current_month

),

means as (

    select
        {{ avg_double('recency_days') }} as mean_recency_days,
        {{ avg_double('frequency') }} as mean_frequency,
        {{ avg_double('monetary_amount') }} as mean_monetary_amount
    from rfm

)

select rfm.*
from rfm
cross join means
where rfm.is_r_high <> (rfm.recency_days < means.mean_recency_days)
    or rfm.is_f_high <> (rfm.frequency > means.mean_frequency)
    or rfm.is_m_high <> (rfm.monetary_amount > means.mean_monetary_amount)
