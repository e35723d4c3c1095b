-- The HMAC key the masked layer was built with: its version label, whether it is the
-- public demo key, and a fingerprint (HMAC of a fixed message, first 16 hex digits)
-- that tells keys apart without revealing them. One row per build.
-- A table: the pii_key_* functions exist only on dbt's connections (privacy.dbt_plugin).

select
    pii_key_version() as key_version,
    'HMAC-SHA256' as algorithm,
    pii_key_is_demo() as is_demo_key,
    pii_key_fingerprint() as key_fingerprint,
    cast(current_timestamp as timestamp) as built_at
