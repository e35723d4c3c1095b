-- stg_feedback__surveys with personal columns masked as declared in its column meta
-- (meta.masked_columns); see macros/privacy/masked_columns.sql.

select
    {{ masked_columns('stg_feedback__surveys') }}
from {{ ref('stg_feedback__surveys') }}
