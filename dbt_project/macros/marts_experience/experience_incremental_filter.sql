{#-
    The `is_incremental()` filter of the experience/marketing/traffic facts: rows loaded
    since the newest `_loaded_at` already in the table, minus a lookback (var
    `marts_incremental_lookback_days`, default 3) so late or slow loads are picked up
    again; delete+insert on the unique key makes the overlap harmless. A late file for
    an old business day has a recent `_loaded_at`, so it is always picked up.
-#}
{% macro experience_incremental_filter(loaded_at_column='_loaded_at') -%}
    {%- if is_incremental() -%}
    {%- set lookback_days = var('marts_incremental_lookback_days', 3) %}
    where {{ loaded_at_column }} >= (
        select {{ dbt.dateadd('day', -1 * lookback_days, 'max(' ~ loaded_at_column ~ ')') }}
        from {{ this }}
    )
    {%- endif -%}
{%- endmacro %}
