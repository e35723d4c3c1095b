-- stg_digital__activity_signups with personal columns masked as declared in its column meta
-- (meta.masked_columns); see macros/privacy/masked_columns.sql.

select
    {{ masked_columns('stg_digital__activity_signups') }}
from {{ ref('stg_digital__activity_signups') }}
