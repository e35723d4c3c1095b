-- stg_pos__transaction_lines with personal columns masked as declared in its column meta
-- (meta.masked_columns); see macros/privacy/masked_columns.sql.

select
    {{ masked_columns('stg_pos__transaction_lines') }}
from {{ ref('stg_pos__transaction_lines') }}
