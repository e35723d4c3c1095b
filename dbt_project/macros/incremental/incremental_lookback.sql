{#-
    Incremental window of a fact table: rows whose `column` (a load timestamp or a
    business date) is at or after the target's latest value minus `lookback_days`
    (var `incremental_lookback_days`). A late file (old business day, new `_loaded_at`)
    and a re-run of the last days are both picked up; delete+insert on the unique key
    makes re-processing idempotent. Use inside `{% if is_incremental() %}`:

        {%- if is_incremental() %}
        where {{ incremental_lookback('_loaded_at') }}
        {%- endif %}
-#}
{% macro incremental_lookback(column, lookback_days=none, this_column=none) -%}
    {%- set days = lookback_days if lookback_days is not none else var('incremental_lookback_days') -%}
    {{ column }} >= (
        select {{ dbt.dateadd('day', -1 * days, 'max(' ~ (this_column or column) ~ ')') }}
        from {{ this }}
    )
{%- endmacro %}
