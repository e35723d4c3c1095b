{#-
    Row filter of an incremental tokenized model (`where` clause over its staging model):
    on an incremental run only the rows that can differ from a full build are tokenized
    again and replaced (delete+insert on `unique_key`):

      - rows loaded within var `incremental_lookback_days` (3) of the latest `_loaded_at`
        already in the table: the new day, late files, a re-run of the last days;
      - rows the table holds under another key version than the current one
        (`pii_key_version` <> MALLCRM_HMAC_KEY_VERSION): a key rotation re-keys every
        row on the next run, daily or full;
      - everything, when the table is empty (nothing to measure the lookback from).

    Rows deleted upstream are not seen here: retention purge and erasure delete from
    the masked tables themselves or rebuild them with --full-refresh (privacy/).
    Outside an incremental run the filter is empty (full build).
-#}
{% macro masked_incremental_filter(unique_key, loaded_at='_loaded_at') -%}
    {%- if is_incremental() -%}
    {%- set days = var('incremental_lookback_days') -%}
    where {{ loaded_at }} >= (
            select coalesce(
                {{ dbt.dateadd('day', -1 * days, 'max(' ~ loaded_at ~ ')') }},
                cast('1900-01-01' as {{ dbt.type_timestamp() }})
            )
            from {{ this }}
        )
        or {{ unique_key }} in (
            select {{ unique_key }} from {{ this }}
            where pii_key_version is null or pii_key_version <> pii_key_version()
        )
    {%- endif -%}
{%- endmacro %}
