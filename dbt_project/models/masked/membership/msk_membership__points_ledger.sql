-- stg_membership__points_ledger with personal columns masked as declared in its column meta
-- (meta.masked_columns); see macros/privacy/masked_columns.sql.

select
    {{ masked_columns('stg_membership__points_ledger') }}
from {{ ref('stg_membership__points_ledger') }}
