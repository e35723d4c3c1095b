-- stg_membership__consents with personal columns masked as declared in its column meta
-- (meta.masked_columns); see macros/privacy/masked_columns.sql.

select
    {{ masked_columns('stg_membership__consents') }}
from {{ ref('stg_membership__consents') }}
