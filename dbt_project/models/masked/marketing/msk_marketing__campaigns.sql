-- stg_marketing__campaigns with personal columns masked as declared in its column meta
-- (meta.masked_columns); see macros/privacy/masked_columns.sql.

select
    {{ masked_columns('stg_marketing__campaigns') }}
from {{ ref('stg_marketing__campaigns') }}
