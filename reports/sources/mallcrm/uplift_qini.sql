-- Uplift model's Qini curve (增量响应模型Qini曲线) on the mall's holdout campaigns, stratified
-- (each campaign ranked and counted on its own, then summed): per ranking (the uplift model,
-- the churn heuristic of longest-since-last-purchase first, random targeting) and share of
-- each campaign's members targeted best-first, the conversions the campaigns added
-- (marts.mart_uplift_qini). Empty until the uplift model has passed its gate and scored.
-- dashboard-filters: none
-- dashboard-ignores date: the curve is the model's evaluation on its test campaigns (from split_date on)
-- dashboard-ignores store: campaign data has no store (campaigns are mall-wide)
-- dashboard-ignores segment: the curve ranks every member of the test campaigns
select
    ranking,
    ranking_label,
    targeted_share,
    incremental_conversions,
    conversions_above_random,
    qini_coefficient,
    random_qini_p95,
    holdout_member_count,
    holdout_campaign_count,
    split_date,
    model_version
from marts.mart_uplift_qini
order by ranking, targeted_share
