-- stg_reference__zones with personal columns masked as declared in its column meta
-- (meta.masked_columns); see macros/privacy/masked_columns.sql.

select
    {{ masked_columns('stg_reference__zones') }}
from {{ ref('stg_reference__zones') }}
