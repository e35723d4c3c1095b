{{ config(materialized=incremental_materialization()) }}
-- stg_sensors__wifi_dwell with personal columns masked as declared in its column meta
-- (meta.masked_columns); see macros/privacy/masked_columns.sql.
-- Tokenized: stored (pii_hmac() exists only on dbt's connections, privacy.dbt_plugin, so
-- a view calling it would fail for every other reader), and incremental: the table grows
-- by a day of devices x zones and a run tokenizes only the new rows, rows under an old
-- key version and, on a full build, everything (macros/privacy/masked_incremental.sql;
-- delete+insert on wifi_dwell_id, configured in the yml).

select
    {{ masked_columns('stg_sensors__wifi_dwell') }},
    pii_key_version() as pii_key_version
from {{ ref('stg_sensors__wifi_dwell') }}
{{ masked_incremental_filter('wifi_dwell_id') }}
