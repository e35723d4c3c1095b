-- stg_digital__wechat_identities with personal columns masked as declared in its column meta
-- (meta.masked_columns); see macros/privacy/masked_columns.sql.
-- Tokenized: a table, because pii_hmac() exists only on dbt's connections
-- (privacy.dbt_plugin) and a view calling it would fail for every other reader.

select
    {{ masked_columns('stg_digital__wechat_identities') }},
    pii_key_version() as pii_key_version
from {{ ref('stg_digital__wechat_identities') }}
