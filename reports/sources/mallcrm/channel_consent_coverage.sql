-- Consent coverage per channel (渠道同意覆盖率): per run date, the active adult members and the share holding the channel's consent.
-- dashboard-filters: date=run_date
-- dashboard-ignores store: consent is given to the mall, not to a store
-- dashboard-ignores segment: coverage counts every active adult member
select
    run_date,
    channel,
    consent_scopes,
    active_adult_member_count,
    consenting_member_count,
    consent_coverage_rate
from marts.mart_channel_consent_coverage
order by run_date, channel
