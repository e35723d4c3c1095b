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

{#-
    The POS receipts an incremental run of a POS fact (fct_transactions, fct_sales_lines)
    can change: receipts or lines loaded within the lookback of the fact's latest load,
    and the stored rows still waiting for their member (`unresolved_rows`, a predicate
    on the fact's own columns). Each fact restricts its inputs to these receipts before
    joining and aggregating, so the run reads the new receipts' rows, not the history;
    its final filter then selects exactly as before.
-#}
{% macro pos_receipts_to_reprocess(unresolved_rows) -%}
    select transaction_id
    from {{ ref('msk_pos__transactions') }}
    where {{ incremental_lookback('_loaded_at') }}
    union
    select transaction_id
    from {{ ref('msk_pos__transaction_lines') }}
    where {{ incremental_lookback('_loaded_at') }}
    union
    select stored_rows.transaction_id
    from {{ this }} as stored_rows
    where {{ unresolved_rows }}
{%- endmacro %}

{#-
    The business days a day-grain mart (one row per ... x business_date) rebuilds on an
    incremental run (delete+insert on `business_date`): the days of the `inputs`' rows
    loaded within the lookback of the mart's latest `_loaded_at` (the newest load it
    was built from), and every day when a `references` relation (zones, stores: names
    and mappings the mart copies) was loaded within it. Select from it with
    `business_date in (...)`; outside an incremental run, do not call it.
-#}
{% macro business_days_to_rebuild(inputs, references=[]) -%}
    {%- set since -%}
        (select coalesce(
            {{ dbt.dateadd('day', -1 * var('incremental_lookback_days'), 'max(_loaded_at)') }},
            cast('1900-01-01' as {{ dbt.type_timestamp() }})
        ) from {{ this }})
    {%- endset -%}
    {%- for input in inputs %}
    select business_date from {{ input }} where _loaded_at >= {{ since }}
    {{ 'union' if not loop.last }}
    {%- endfor %}
    {%- for reference in references %}
    union
    select business_date from {{ inputs[0] }}
    where exists (select 1 from {{ reference }} where {{ reference }}._loaded_at >= {{ since }})
    {%- endfor %}
{%- endmacro %}

{#- The later of two timestamps, either of which may be NULL. -#}
{% macro later_of(a, b) -%}
    case when {{ b }} is null or {{ a }} > {{ b }} then {{ a }} else {{ b }} end
{%- endmacro %}
