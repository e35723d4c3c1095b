{#-
    Month-incremental member snapshots (int_member__lifecycle_snapshots,
    int_member__rfm_snapshots): each row carries `inputs_fingerprint`, a summary of
    everything its snapshot day was computed from; an incremental run rebuilds only the
    snapshot days whose fingerprint is new or changed (delete+insert on `snapshot_date`)
    and drops the days that are no longer snapshot days (the previous as-of date).
    A closed month keeps its rows until data about it changes: a late file, a
    correction, a receipt that resolved to its member late.

    daily_activity_totals(): per business day, the member-day rows of
    int_member__daily_activity and their sums (the snapshots' only activity input).
-#}
{% macro daily_activity_totals(activity_relation) -%}
    select
        business_date,
        count(*) as member_days,
        count(distinct member_id) as members,
        sum(sale_orders) as sale_orders,
        sum(refund_receipts) as refund_receipts,
        sum(net_spend_amount) as net_spend_amount,
        sum(case when is_purchase_day then days_since_previous_purchase else 0 end) as gap_days
    from {{ activity_relation }}
    group by business_date
{%- endmacro %}

{#- A varchar of the given expressions, '|'-separated (NULL written as '~'). -#}
{% macro fingerprint(expressions) -%}
    {%- set parts = [] -%}
    {%- for expression in expressions -%}
        {%- do parts.append("coalesce(" ~ dbt.safe_cast(expression, dbt.type_string()) ~ ", '~')") -%}
        {%- if not loop.last %}{% do parts.append("'|'") %}{% endif -%}
    {%- endfor -%}
    {{ dbt.concat(parts) }}
{%- endmacro %}

{#-
    The snapshot days to (re)build: every day of `fingerprints` (snapshot_date,
    inputs_fingerprint) on a full build; on an incremental run those not stored with the
    same fingerprint.
-#}
{% macro snapshot_dates_to_build(fingerprints) -%}
    select {{ fingerprints }}.*
    from {{ fingerprints }}
    {%- if is_incremental() %}
    where not exists (
        select 1
        from {{ this }} as stored
        where stored.snapshot_date = {{ fingerprints }}.snapshot_date
            and stored.inputs_fingerprint = {{ fingerprints }}.inputs_fingerprint
    )
    {%- endif %}
{%- endmacro %}

{#- post_hook: delete the rows of days that are no longer snapshot days. -#}
{% macro drop_stale_snapshot_dates() -%}
    {{ return(adapter.dispatch('drop_stale_snapshot_dates', 'mallcrm')()) }}
{%- endmacro %}

{% macro default__drop_stale_snapshot_dates() -%}
    delete from {{ this }}
    where snapshot_date not in (select snapshot_date from {{ ref('int_member__snapshot_dates') }})
{%- endmacro %}

{#-
    Spark: a Parquet table has no DELETE; the snapshot models are partitioned by
    snapshot_date there (incremental_by_day), so the stale days' partitions are dropped.
    Nothing stale (a first build): an empty hook, which dbt does not run.
-#}
{% macro spark__drop_stale_snapshot_dates() -%}
    {%- if execute -%}
        {%- set stale -%}
            select distinct cast(snapshot_date as string) from {{ this }}
            where snapshot_date not in (select snapshot_date from {{ ref('int_member__snapshot_dates') }})
        {%- endset -%}
        {%- set days = run_query(stale).columns[0].values() -%}
        {%- if days | length > 0 -%}
            alter table {{ this }} drop if exists
            {%- for day in days %}
                partition (snapshot_date = '{{ day }}'){{ ',' if not loop.last }}
            {%- endfor %}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
