-- stg_sensors__people_counts with personal columns masked as declared in its column meta
-- (meta.masked_columns); see macros/privacy/masked_columns.sql.

select
    {{ masked_columns('stg_sensors__people_counts') }}
from {{ ref('stg_sensors__people_counts') }}
