-- stg_marketing__assignments with personal columns masked as declared in its column meta
-- (meta.masked_columns); see macros/privacy/masked_columns.sql.

select
    {{ masked_columns('stg_marketing__assignments') }}
from {{ ref('stg_marketing__assignments') }}
